// The running daemon: wires config, store, scheduler, delivery and HTTP together and runs the
// main loop. Signal handlers only set flags (see signals.hpp); this loop acts on them.
#pragma once

#include <atomic>
#include <memory>

#include "daemon/config/config.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::app {

enum class RunMode { forever, once };

struct RunSummary {
  std::int64_t sent = 0, failed = 0, retried = 0, skipped = 0;
  int campaigns_started = 0;
  int file_errors = 0;
  double seconds = 0;
};

// Runs until SIGTERM/SIGINT (forever) or until nothing is due (once). Returns the summary;
// an error when start-up fails (bad store, port in use, transport misconfigured).
Result<RunSummary> run_daemon(const config::Config& config, RunMode mode);

// The token key: CAMPAIGND_SECRET (or what secrets.token_key_env names) if set, else a random
// key created once in data_dir/token.key (mode 0600) so links survive restarts.
Result<std::string> token_key(const config::Config& config);

}  // namespace campaignd::app
