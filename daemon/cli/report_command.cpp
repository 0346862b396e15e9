// `campaignd report CAMPAIGN [--format table|json|csv]`: a campaign's funnel with its breakdowns
// (analytics/campaign_report.hpp), or an automation's steps, each with its funnel.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "daemon/analytics/campaign_report.hpp"
#include "daemon/analytics/report_format.hpp"
#include "daemon/automation/automation_engine.hpp"
#include "daemon/campaigns/ab_decisions.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/cli/commands.hpp"
#include "daemon/store/store.hpp"

namespace campaignd::cli {

namespace {

void print(const nlohmann::json& report, const std::string& format, bool automation) {
  if (format == "json") std::cout << report.dump(2) << "\n";
  else if (format == "csv")
    std::cout << (automation ? analytics::automation_report_csv(report) : analytics::campaign_report_csv(report));
  else std::cout << (automation ? analytics::automation_report_table(report) : analytics::campaign_report_table(report));
}

// The automation engine's report, each step given its campaign's full funnel (the step's own
// keys win where both have one).
Result<std::optional<nlohmann::json>> automation_report(const store::Database& db, const std::string& name) {
  auto report = automation::AutomationEngine::report(db, name);
  if (!report || !*report) return report;
  auto funnels = analytics::automation_step_funnels(db, name);
  if (!funnels) return std::unexpected(funnels.error());
  nlohmann::json& out = **report;
  for (auto& step : out["steps"]) {
    for (const auto& f : *funnels) {
      if (f.name != step.value("campaign", "")) continue;
      nlohmann::json j = analytics::to_json(f);
      for (auto it = j.begin(); it != j.end(); ++it)
        if (!step.contains(it.key())) step[it.key()] = *it;
    }
  }
  return report;
}

// The A/B test: its setting, and once decided the test used, its statistic and p-value, the
// winner and each variant's numbers (the JSON `ab_test`).
nlohmann::json ab_json(const campaigns::AbDecision& d) {
  nlohmann::json j = {{"state", d.state},         {"metric", d.metric},
                      {"fraction", d.fraction},   {"confidence", d.confidence},
                      {"test_size", d.test_size}, {"started_at", util::format_iso8601(d.started_at)},
                      {"decide_at", util::format_iso8601(d.decide_at)}};
  if (d.test) j["test"] = *d.test;
  if (d.statistic) j["statistic"] = *d.statistic;
  if (d.p_value) j["p_value"] = *d.p_value;
  if (d.state == "decided") j["significant"] = d.significant;
  if (d.winner) j["winner"] = *d.winner;
  if (d.remainder) j["remainder"] = *d.remainder;
  if (d.decided_at) j["decided_at"] = util::format_iso8601(*d.decided_at);
  j["variants"] = nlohmann::json::array();
  for (const auto& v : d.numbers)
    j["variants"].push_back({{"variant", v.variant}, {"sent", v.sent}, {"responded", v.responded}, {"rate", v.rate()}});
  return j;
}

std::string ab_table(const nlohmann::json& ab) {
  std::ostringstream out;
  char line[256];
  out << "\nA/B test (" << ab.value("metric", "") << ", " << ab.value("fraction", 0.0) * 100 << "% of the segment, "
      << ab.value("test_size", 0) << " test sends)\n";
  if (ab.value("state", "") != "decided") {
    out << "  testing: the decision is due at " << ab.value("decide_at", "") << "\n";
    return out.str();
  }
  std::snprintf(line, sizeof line, "  %-10s %8s %10s %8s\n", "VARIANT", "SENT", "RESPONDED", "RATE");
  out << line;
  for (const auto& v : ab["variants"]) {
    std::snprintf(line, sizeof line, "  %-10.10s %8lld %10lld %7.2f%%\n", v.value("variant", "").c_str(),
                  v.value("sent", 0LL), v.value("responded", 0LL), v.value("rate", 0.0) * 100);
    out << line;
  }
  std::snprintf(line, sizeof line, "  %s: statistic %.4g, p = %.4g, %s at %.0f%% confidence\n",
                ab.value("test", "").c_str(), ab.value("statistic", 0.0), ab.value("p_value", 1.0),
                ab.value("significant", false) ? "significant" : "not significant", ab.value("confidence", 0.0) * 100);
  out << line;
  out << "  winner: " << ab.value("winner", "") << ", sent to the other " << ab.value("remainder", 0)
      << " recipients (decided " << ab.value("decided_at", "") << ")\n";
  return out.str();
}

std::string ab_csv(const nlohmann::json& ab) {
  std::ostringstream out;
  out << "\nab_test\nstate,metric,test,statistic,p_value,significant,winner,remainder\n"
      << ab.value("state", "") << "," << ab.value("metric", "") << "," << ab.value("test", "") << ","
      << ab.value("statistic", 0.0) << "," << ab.value("p_value", 1.0) << "," << ab.value("significant", false)
      << "," << ab.value("winner", "") << "," << ab.value("remainder", 0) << "\n"
      << "variant,sent,responded,rate\n";
  for (const auto& v : ab["variants"])
    out << v.value("variant", "") << "," << v.value("sent", 0) << "," << v.value("responded", 0) << ","
        << v.value("rate", 0.0) << "\n";
  return out.str();
}

}  // namespace

int cmd_report(const Args& args) {
  std::string format = args.option("--format").value_or("table");
  if (args.positional.size() != 1 || (format != "table" && format != "json" && format != "csv")) {
    std::cerr << "usage: campaignd report CAMPAIGN [--format table|json|csv]\n";
    return Exit::user_error;
  }
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  auto opened = open_store(*cfg);
  if (!opened) return Exit::internal_error;
  const store::Database& reader = opened->reader;
  const std::string& name = args.positional.front();
  auto report = analytics::campaign_report(reader, name);
  if (!report) {
    // Not a campaign: perhaps an automation.
    auto automation = automation_report(reader, name);
    if (!automation) {
      std::cerr << "campaignd report: " << automation.error() << "\n";
      return Exit::internal_error;
    }
    if (*automation) {
      print(**automation, format, true);
      return Exit::ok;
    }
    std::cerr << "campaignd report: " << report.error() << "\n";
    return Exit::user_error;
  }
  auto json = analytics::to_json(*report);
  std::optional<campaigns::AbDecision> ab;
  {
    auto loaded = campaigns::load_ab_decision(reader, report->campaign_id);
    if (!loaded) {
      std::cerr << "campaignd report: " << loaded.error() << "\n";
      return Exit::internal_error;
    }
    ab = *loaded;
  }
  if (ab) json["ab_test"] = ab_json(*ab);
  print(json, format, false);
  if (ab && format == "table") std::cout << ab_table(json["ab_test"]);
  if (ab && format == "csv") std::cout << ab_csv(json["ab_test"]);
  return Exit::ok;
}

}  // namespace campaignd::cli
