// What the automation engine reads from and writes to the shared sends and events tables: new
// events after a cursor, a step's queued send, and per-step counts. Kept here until these
// queries move into store/sends.* and store/events.* (owned elsewhere).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"
#include "daemon/store/events.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::automation {

// Events with id > `after`, oldest first, at most `limit`.
Result<std::vector<store::Event>> events_after(const store::Database& db, std::int64_t after, int limit);
Result<std::int64_t> last_event_id(const store::Database& db);

// Queues the step's send: campaign = the step's campaigns row, occurrence = the enrollment id.
// A send already there for (campaign, contact, occurrence) is left alone, so running this again
// after a crash sends nothing twice. `context` null: no context. True when a row was added.
Result<bool> enqueue_step_send(const store::Database& db, std::int64_t campaign_id, std::int64_t contact_id,
                               std::int64_t enrollment_id, const nlohmann::json& context, util::UnixTime now);

struct StepCounts {
  std::int64_t queued = 0, sent = 0, failed = 0, skipped = 0;
  std::int64_t opened = 0, clicked = 0, replied = 0;  // distinct contacts, human events only
};
Result<StepCounts> step_counts(const store::Database& db, std::int64_t campaign_id);

}  // namespace campaignd::automation
