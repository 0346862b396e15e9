#include "daemon/cli/cli.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <variant>

#include "daemon/cli/commands.hpp"

namespace campaignd::cli {

namespace {

constexpr const char* kUsage = R"(campaignd — marketing campaigns and email automation

usage: campaignd COMMAND [options]   (every command takes --config FILE, default ./campaignd.yaml)

  run [--once]                          run the daemon (--once: send what is due, print a summary, exit)
  validate FILE...                      check campaign, rule and template files
  import contacts FILE.csv              add or update contacts (email, first_name, last_name, tags, status, ...)
  import events FILE.csv                add events (email, type, amount, at)
  preview CAMPAIGN --contact EMAIL      print the message that contact would get
  report CAMPAIGN [--format table|json|csv]
  status                                what /status says
  suppress add EMAIL [--reason TEXT] | remove EMAIL | list | import FILE.csv
  forget EMAIL                          erase a person's data, keep a hashed suppression
  export EMAIL                          print, as JSON, everything stored about a person
  migrate-store --to postgresql://...   copy this store into an empty PostgreSQL database
  version                               print the version

exit codes: 0 ok, 1 user error, 2 internal error
)";

struct Command {
  int (*run)(const Args&);
  std::set<std::string> value_options;
  std::set<std::string> flag_options;
};

const std::map<std::string, Command>& commands() {
  static const std::map<std::string, Command> table = {
      {"run", {cmd_run, {"--config"}, {"--once"}}},
      {"validate", {cmd_validate, {"--config"}, {}}},
      {"import", {cmd_import, {"--config"}, {"--quiet"}}},
      {"preview", {cmd_preview, {"--config", "--contact"}, {}}},
      {"report", {cmd_report, {"--config", "--format"}, {}}},
      {"status", {cmd_status, {"--config"}, {"--offline"}}},
      {"suppress", {cmd_suppress, {"--config", "--reason"}, {}}},
      {"forget", {cmd_forget, {"--config"}, {}}},
      {"export", {cmd_export, {"--config"}, {}}},
      {"migrate-store", {cmd_migrate_store, {"--config", "--to", "--from"}, {}}},
  };
  return table;
}

}  // namespace

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("campaignd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

std::optional<config::Config> load_config(const Args& args, bool required) {
  auto path = args.option("--config");
  std::string file = path.value_or("campaignd.yaml");
  if (!path && !std::filesystem::exists(file)) {
    if (required) {
      std::cerr << "campaignd: no config file ./campaignd.yaml (give one with --config FILE)\n";
      return std::nullopt;
    }
    try {
      return config::defaults(std::filesystem::current_path().string());
    } catch (const config::ConfigError& e) {
      std::cerr << e.what() << "\n";
      return std::nullopt;
    }
  }
  try {
    return config::load(file);
  } catch (const config::ConfigError& e) {
    std::cerr << e.what() << "\n";
    return std::nullopt;
  }
}

std::optional<OpenedStore> open_store(const config::Config& cfg) {
  auto store = store::Store::open(cfg.store_target());
  if (!store) {
    std::cerr << "campaignd: " << store.error() << "\n";
    return std::nullopt;
  }
  auto reader = (*store)->open_reader();
  if (!reader) {
    std::cerr << "campaignd: " << reader.error() << "\n";
    return std::nullopt;
  }
  return OpenedStore{std::move(*store), std::move(*reader)};
}

int main(int argc, char** argv) {
  std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "help" || all[0] == "--help" || all[0] == "-h") {
    std::cout << kUsage;
    return all.empty() ? Exit::user_error : Exit::ok;
  }
  if (all[0] == "version" || all[0] == "--version") {
    std::cout << "campaignd " << CAMPAIGND_VERSION << "\n";
    return Exit::ok;
  }
  auto it = commands().find(all[0]);
  if (it == commands().end()) {
    std::cerr << "campaignd: unknown command '" << all[0] << "'\n\n" << kUsage;
    return Exit::user_error;
  }
  auto parsed = parse_args({all.begin() + 1, all.end()}, it->second.value_options, it->second.flag_options);
  if (auto* err = std::get_if<ArgsError>(&parsed)) {
    std::cerr << "campaignd " << all[0] << ": " << err->message << "\n";
    return Exit::user_error;
  }
  try {
    return it->second.run(std::get<Args>(parsed));
  } catch (const std::exception& e) {
    std::cerr << "campaignd " << all[0] << ": internal error: " << e.what() << "\n";
    return Exit::internal_error;
  }
}

}  // namespace campaignd::cli
