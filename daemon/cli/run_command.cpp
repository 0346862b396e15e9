// `campaignd run [--once]`.
#include <iostream>

#include "daemon/app/daemon.hpp"
#include "daemon/cli/commands.hpp"

namespace campaignd::cli {

int cmd_run(const Args& args) {
  if (!args.positional.empty()) {
    std::cerr << "campaignd run: unexpected argument '" << args.positional.front() << "'\n";
    return Exit::user_error;
  }
  auto cfg = load_config(args, true);
  if (!cfg) return Exit::user_error;
  setup_logging(cfg->log_level);
  bool once = args.flag("--once");
  auto summary = app::run_daemon(*cfg, once ? app::RunMode::once : app::RunMode::forever);
  if (!summary) {
    std::cerr << "campaignd: " << summary.error() << "\n";
    return Exit::internal_error;
  }
  if (once) {
    std::cout << "campaigns started: " << summary->campaigns_started << "\n"
              << "sent: " << summary->sent << "  failed: " << summary->failed << "  deferred: " << summary->retried
              << "  skipped: " << summary->skipped << "\n"
              << "file errors: " << summary->file_errors << "\n"
              << "took " << summary->seconds << " s\n";
  }
  return Exit::ok;
}

}  // namespace campaignd::cli
