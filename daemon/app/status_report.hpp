// The /status document and the /metrics text, built from the store plus what the running
// daemon knows (file errors, send rate). `campaignd status` prints the same document.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::app {

struct LiveFigures {
  double uptime_s = 0;
  double send_rate = 0;
  std::int64_t in_flight = 0;
  std::int64_t sent = 0, failed = 0, retried = 0, skipped = 0;  // since start
  std::string transport;
  bool daemon_running = true;
  std::int64_t deferred = 0;  // since start
  nlohmann::json flows;       // per relay and destination: DeliveryEngine::flow_status()
  std::string paused_reason;  // non-empty while sending waits for the store (disk full, locked)
  std::int64_t paused_since = 0;
  std::int64_t unrecorded = 0;
  std::string database;       // its path, for the error entry
};

Result<nlohmann::json> build_status(const store::Database& reader, const std::vector<PlacedError>& file_errors,
                                    const LiveFigures& live);
// Prometheus text exposition format, from the status document.
std::string metrics_from_status(const nlohmann::json& status);

}  // namespace campaignd::app
