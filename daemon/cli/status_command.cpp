// `campaignd status`: asks the running daemon's /status; when none answers (or with
// --offline) it builds the same document from the database and the campaign files.
#include <httplib.h>

#include <iostream>

#include "daemon/app/status_report.hpp"
#include "daemon/campaigns/campaign_loader.hpp"
#include "daemon/cli/commands.hpp"
#include "daemon/store/store.hpp"

namespace campaignd::cli {

namespace {

std::optional<nlohmann::json> ask_daemon(const config::Config& cfg) {
  auto colon = cfg.http_listen.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string host = cfg.http_listen.substr(0, colon);
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "::" || host == "[::]") host = "::1";
  int port = std::atoi(cfg.http_listen.c_str() + colon + 1);
  httplib::Client client(host, port);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  auto res = client.Get("/status", {{"Authorization", "Bearer " + cfg.admin_token}});
  if (!res) return std::nullopt;
  if (res->status == 401) {
    std::cerr << "campaignd status: the daemon refused the admin token (set " << cfg.admin_token_env << ")\n";
    return nlohmann::json();
  }
  if (res->status != 200) return std::nullopt;
  return nlohmann::json::parse(res->body, nullptr, false);
}

void print_table(const nlohmann::json& s) {
  std::cout << "campaignd " << s.value("version", "?") << (s.value("running", false) ? "  running" : "  not running");
  if (s.value("running", false)) std::cout << "  up " << s.value("uptime_s", 0) << " s";
  std::cout << "\nqueue depth " << s.value("queue_depth", 0) << "  send rate " << s.value("send_rate", 0.0)
            << " msg/s\n\n";
  std::printf("%-28s %-10s %10s %10s %8s %8s %8s\n", "CAMPAIGN", "STATE", "RECIPIENTS", "SENT", "FAILED", "SKIPPED",
              "QUEUED");
  for (const auto& c : s["campaigns"])
    std::printf("%-28s %-10s %10lld %10lld %8lld %8lld %8lld\n", c.value("name", "").c_str(),
                c.value("state", "").c_str(), c.value("recipients", 0LL), c.value("sent", 0LL), c.value("failed", 0LL),
                c.value("skipped", 0LL), c.value("queued", 0LL));
  if (s.contains("automations") && !s["automations"].empty()) {
    std::printf("\n%-28s %-18s %9s %8s %10s %8s\n", "AUTOMATION", "TRIGGER", "ENROLLED", "ACTIVE", "COMPLETED",
                "EXITED");
    for (const auto& a : s["automations"]) {
      std::printf("%-28s %-18s %9lld %8lld %10lld %8lld\n", a.value("name", "").c_str(), a.value("trigger", "").c_str(),
                  a.value("enrolled", 0LL), a.value("active", 0LL), a.value("completed", 0LL), a.value("exited", 0LL));
      for (const auto& step : a["steps"])
        std::printf("  step %-3lld sent %-8lld opened %-8lld clicked %-8lld\n", step.value("step", 0LL),
                    step.value("sent", 0LL), step.value("opened", 0LL), step.value("clicked", 0LL));
    }
  }
  if (!s["errors"].empty()) {
    std::cout << "\nrejected files:\n";
    for (const auto& e : s["errors"])
      std::cout << "  " << e.value("file", "") << ":" << e.value("line", 0) << ":" << e.value("col", 0) << ": "
                << e.value("message", "") << "\n";
  }
}

}  // namespace

int cmd_status(const Args& args) {
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  std::optional<nlohmann::json> doc;
  if (!args.flag("--offline")) doc = ask_daemon(*cfg);
  if (doc && doc->is_null()) return Exit::user_error;
  if (!doc || doc->is_discarded()) {
    auto store = store::Store::open(cfg->store_target());
    if (!store) {
      std::cerr << store.error() << "\n";
      return Exit::internal_error;
    }
    auto reader = (*store)->open_reader();
    if (!reader) {
      std::cerr << reader.error() << "\n";
      return Exit::internal_error;
    }
    util::SystemClock clock;
    auto folder = campaigns::load_folder(cfg->resolve(cfg->campaigns_dir),
                                         {cfg->resolve(cfg->templates_dir), cfg->resolve(cfg->rules_dir)}, clock.now());
    app::LiveFigures live;
    live.daemon_running = false;
    auto built = app::build_status(*reader, folder.errors, live);
    if (!built) {
      std::cerr << built.error() << "\n";
      return Exit::internal_error;
    }
    doc = *built;
  }
  print_table(*doc);
  return Exit::ok;
}

}  // namespace campaignd::cli
