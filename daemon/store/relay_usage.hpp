// The relay_usage and relay_warmup tables: messages each relay sent per hour, so a sliding
// window cap ("50000/24h") and a warm-up schedule hold across restarts, and the day each
// relay's warm-up began.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct RelayHour {
  std::string relay;
  std::int64_t hour = 0;  // unix time / 3600
  std::int64_t sent = 0;
};

class RelayUsageRepository {
 public:
  explicit RelayUsageRepository(const Database& db) : db_(db) {}

  // One more message sent through `relay` at `at`; in the same transaction as the send's mark.
  Status add_sent(const std::string& relay, util::UnixTime at);
  // Every hour bucket from `since` on, for the engine's in-memory counts at start-up.
  Result<std::vector<RelayHour>> since(util::UnixTime since);
  // Drops buckets older than `before` (nothing needs more than the longest window).
  Status prune(util::UnixTime before);

  Result<std::optional<util::UnixTime>> warmup_started(const std::string& relay);
  // Keeps an existing start: the schedule never restarts because the daemon did.
  Status start_warmup(const std::string& relay, util::UnixTime day_start);

 private:
  const Database& db_;
};

}  // namespace campaignd::store
