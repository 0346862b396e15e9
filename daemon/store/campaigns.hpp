// The campaigns table: one row per campaign name, its state and its counters.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct CampaignRow {
  std::int64_t id = 0;
  std::string name;
  std::string file;
  std::string state;  // scheduled | running | paused | done | failed
  util::UnixTime schedule_at = 0;
  std::int64_t recipients = 0;
  std::optional<util::UnixTime> started_at;
  std::optional<util::UnixTime> finished_at;
  std::optional<std::string> error;
};

struct SendCounts {
  std::int64_t queued = 0, sending = 0, sent = 0, failed = 0, skipped = 0;
  std::int64_t total() const { return queued + sending + sent + failed + skipped; }
};

class CampaignRepository {
 public:
  explicit CampaignRepository(const Database& db) : db_(db) {}

  // Inserts a new campaign (state scheduled) or, for a known name, records the new file and
  // definition; the schedule changes only while the campaign has not started.
  Result<CampaignRow> upsert(const std::string& name, const std::string& file, const std::string& definition_json,
                             util::UnixTime schedule_at, util::UnixTime now);
  Result<std::optional<CampaignRow>> find(const std::string& name);
  Result<std::vector<CampaignRow>> list();
  // Campaigns whose state is `scheduled` and whose time has come.
  Result<std::vector<CampaignRow>> due(util::UnixTime now);
  Status mark_started(std::int64_t id, std::int64_t recipients, util::UnixTime now);
  Status set_state(std::int64_t id, const std::string& state, util::UnixTime now,
                   const std::optional<std::string>& error = std::nullopt);
  Result<SendCounts> send_counts(std::int64_t id);
  // The `topic:` of the campaign file as last loaded, if any.
  Result<std::optional<std::string>> topic_of(std::int64_t id);

 private:
  const Database& db_;
};

}  // namespace campaignd::store
