// The sends table: one row per campaign x contact, the unit of work of the send queue.
// States: queued -> sending -> sent | failed | skipped; a temporary failure goes back to queued
// with a later next_attempt_at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct ClaimedSend {
  std::int64_t id = 0;
  std::int64_t campaign_id = 0;
  std::int64_t contact_id = 0;
  int attempts = 0;  // attempts made before this one
  std::optional<std::string> context;  // JSON: what the message answers (autoresponses)
};

struct SendRef {
  std::int64_t id = 0;
  std::int64_t campaign_id = 0;
  std::optional<std::int64_t> contact_id;  // NULL once the contact was forgotten
  std::string state;
  std::optional<util::UnixTime> sent_at;
  std::optional<std::string> message_id;
};

class SendRepository {
 public:
  explicit SendRepository(const Database& db) : db_(db) {}

  // Adds a queued send for every subscribed, unsuppressed contact matching `where_sql` (over
  // contacts `c`) who has not left `topic` (when given) and has none yet for this campaign;
  // returns how many rows the campaign has in all.
  Result<std::int64_t> enqueue_matching(std::int64_t campaign_id, const std::string& where_sql,
                                        const std::vector<SqlValue>& params,
                                        const std::optional<std::string>& topic = std::nullopt);
  // Queues one send (a confirmation mail); an existing row for the pair is queued again.
  Status enqueue_one(std::int64_t campaign_id, std::int64_t contact_id, util::UnixTime now);
  // Marks up to `limit` due queued sends as sending and returns them, oldest first.
  Result<std::vector<ClaimedSend>> claim_due(util::UnixTime now, int limit);
  // After a crash, what was in flight is queued again (it may go twice; nothing is lost).
  Result<int> requeue_in_flight();

  Status mark_sent(std::int64_t id, const std::string& message_id, int code, util::UnixTime now);
  Status mark_retry(std::int64_t id, util::UnixTime next_attempt_at, int code, const std::string& reply,
                    util::UnixTime now);
  Status mark_failed(std::int64_t id, int code, const std::string& reply, util::UnixTime now);
  Status mark_skipped(std::int64_t id, const std::string& reason, util::UnixTime now);

  Result<std::optional<SendRef>> find(std::int64_t id);
  // By our Message-ID (without angle brackets): how provider events and replies find their send.
  Result<std::optional<SendRef>> find_by_message_id(const std::string& message_id);
  // Every send to one contact, for `campaignd export`: campaign name, state, message id, times.
  Result<nlohmann::json> for_contact(std::int64_t contact_id);

  // Sends not yet finished (queued or sending) for one campaign.
  Result<std::int64_t> unfinished(std::int64_t campaign_id);
  // All queued sends, and those due now.
  Result<std::int64_t> queue_depth();
  Result<std::optional<util::UnixTime>> next_due_at();

 private:
  const Database& db_;
};

}  // namespace campaignd::store
