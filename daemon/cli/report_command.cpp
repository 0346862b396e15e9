// `campaignd report CAMPAIGN [--format table|json|csv]`: a campaign's funnel with its breakdowns
// (analytics/campaign_report.hpp), or an automation's steps, each with its funnel.
#include <iostream>

#include "daemon/analytics/campaign_report.hpp"
#include "daemon/analytics/report_format.hpp"
#include "daemon/automation/automation_engine.hpp"
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
  print(analytics::to_json(*report), format, false);
  return Exit::ok;
}

}  // namespace campaignd::cli
