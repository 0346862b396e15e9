// `campaignd report CAMPAIGN [--format table|json|csv]`.
#include <cstdio>
#include <iostream>

#include "daemon/analytics/funnel.hpp"
#include "daemon/automation/automation_engine.hpp"
#include "daemon/cli/commands.hpp"
#include "daemon/store/store.hpp"

namespace campaignd::cli {

namespace {

// An automation: enrolments, and per step what was sent and how people responded.
int print_automation(const nlohmann::json& a, const std::string& format) {
  if (format == "json") {
    std::cout << a.dump(2) << "\n";
    return Exit::ok;
  }
  if (format == "csv") {
    std::cout << "automation,step,campaign,sent,failed,skipped,opened,clicked,replied\n";
    for (const auto& s : a["steps"])
      std::cout << a.value("name", "") << "," << s.value("step", 0) << "," << s.value("campaign", "") << ","
                << s.value("sent", 0) << "," << s.value("failed", 0) << "," << s.value("skipped", 0) << ","
                << s.value("opened", 0) << "," << s.value("clicked", 0) << "," << s.value("replied", 0) << "\n";
    return Exit::ok;
  }
  std::printf("automation %s (trigger %s)\n", a.value("name", "").c_str(), a.value("trigger", "").c_str());
  std::printf("  enrolled %lld  active %lld  completed %lld  exited %lld\n", a.value("enrolled", 0LL),
              a.value("active", 0LL), a.value("completed", 0LL), a.value("exited", 0LL));
  std::printf("  %-6s %-24s %8s %8s %8s %8s %8s\n", "STEP", "SUBJECT", "SENT", "SKIPPED", "OPENED", "CLICKED", "REPLIED");
  for (const auto& s : a["steps"])
    std::printf("  %-6lld %-24.24s %8lld %8lld %8lld %8lld %8lld\n", s.value("step", 0LL), s.value("subject", "").c_str(),
                s.value("sent", 0LL), s.value("skipped", 0LL), s.value("opened", 0LL), s.value("clicked", 0LL),
                s.value("replied", 0LL));
  return Exit::ok;
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
  auto funnel = analytics::campaign_funnel(reader, args.positional.front());
  if (!funnel) {
    // Not a campaign: perhaps an automation.
    auto automation = automation::AutomationEngine::report(reader, args.positional.front());
    if (automation && *automation) return print_automation(**automation, format);
    std::cerr << "campaignd report: " << funnel.error() << "\n";
    return Exit::user_error;
  }
  nlohmann::json j = analytics::to_json(*funnel);
  if (format == "json") {
    std::cout << j.dump(2) << "\n";
  } else if (format == "csv") {
    std::string header, values;
    for (auto it = j.begin(); it != j.end(); ++it) {
      header += (header.empty() ? "" : ",") + it.key();
      std::string v = it->is_string() ? "\"" + it->get<std::string>() + "\"" : it->dump();
      values += (values.empty() ? "" : ",") + v;
    }
    std::cout << header << "\n" << values << "\n";
  } else {
    const analytics::Funnel& f = *funnel;
    auto pct = [](double r) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%6.2f%%", r * 100);
      return std::string(buf);
    };
    std::printf("campaign %s (%s)\n", f.name.c_str(), f.state.c_str());
    std::printf("  %-14s %10lld\n", "recipients", static_cast<long long>(f.recipients));
    std::printf("  %-14s %10lld\n", "sent", static_cast<long long>(f.sent));
    std::printf("  %-14s %10lld\n", "failed", static_cast<long long>(f.failed));
    std::printf("  %-14s %10lld\n", "skipped", static_cast<long long>(f.skipped));
    std::printf("  %-14s %10lld\n", "queued", static_cast<long long>(f.queued));
    std::printf("  %-14s %10lld\n", "delivered", static_cast<long long>(f.delivered));
    std::printf("  %-14s %10lld  %s\n", "bounced", static_cast<long long>(f.bounced), pct(f.bounce_rate).c_str());
    std::printf("  %-14s %10lld  %s\n", "opened", static_cast<long long>(f.opened), pct(f.open_rate).c_str());
    std::printf("  %-14s %10lld  %s  (click-to-open %s)\n", "clicked", static_cast<long long>(f.clicked),
                pct(f.click_rate).c_str(), pct(f.click_to_open_rate).c_str());
    std::printf("  %-14s %10lld  %s\n", "replied", static_cast<long long>(f.replied), pct(f.reply_rate).c_str());
    std::printf("  %-14s %10lld  %s\n", "unsubscribed", static_cast<long long>(f.unsubscribed),
                pct(f.unsubscribe_rate).c_str());
    std::printf("  %-14s %10lld  %s\n", "complained", static_cast<long long>(f.complained),
                pct(f.complaint_rate).c_str());
    std::printf("  %-14s %10lld  revenue %.2f\n", "conversions", static_cast<long long>(f.conversions), f.revenue);
  }
  return Exit::ok;
}

}  // namespace campaignd::cli
