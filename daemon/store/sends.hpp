// The sends table: one row per campaign x contact, the unit of work of the send queue.
// States: queued -> sending -> sent | failed | skipped; a temporary failure goes back to queued
// with a later next_attempt_at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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
  std::optional<std::string> variant;  // A/B variant (sends.variant); none = the campaign as written
};

// Claimed sends with their next_attempt_at, handed out in due order (next_attempt_at, id):
// UPDATE … RETURNING gives no order, on either engine.
std::vector<ClaimedSend> in_due_order(std::vector<std::pair<util::UnixTime, ClaimedSend>> rows);

struct SendRef {
  std::int64_t id = 0;
  std::int64_t campaign_id = 0;
  std::optional<std::int64_t> contact_id;  // NULL once the contact was forgotten
  std::string state;
  std::optional<util::UnixTime> sent_at;
  std::optional<std::string> message_id;
};

// Who claims sends, and until when the claim holds if that node goes silent. On PostgreSQL
// several nodes claim from one queue: each send goes to one node (FOR UPDATE SKIP LOCKED), and
// a node's sends go back to the queue once its lease runs out (pg/pg_send_leases.hpp). On
// SQLite there is one node and the lease is not recorded.
struct SendLease {
  std::string owner;
  util::UnixTime until = 0;
};

class SendRepository {
 public:
  explicit SendRepository(const Database& db) : db_(db) {}
  // `owner`: the node recording outcomes. On PostgreSQL a send that another node has claimed
  // since (this one's lease ran out) is then left alone by mark_retry/deferred/failed/skipped:
  // a node presumed dead cannot push back a send someone else now owns. mark_sent is not
  // fenced: the message did go, and recording it stops the new owner sending it again.
  SendRepository(const Database& db, std::string owner) : db_(db), owner_(std::move(owner)) {}

  // Adds a queued send for every subscribed, unsuppressed contact matching `where_sql` (over
  // contacts `c`) who has not left `topic` (when given) and has none yet for this campaign;
  // returns how many rows the campaign has in all.
  Result<std::int64_t> enqueue_matching(std::int64_t campaign_id, const std::string& where_sql,
                                        const std::vector<SqlValue>& params,
                                        const std::optional<std::string>& topic = std::nullopt);
  // Queues one send (a confirmation mail); an existing row for the pair is queued again.
  Status enqueue_one(std::int64_t campaign_id, std::int64_t contact_id, util::UnixTime now);
  using Lease = SendLease;
  // Marks up to `limit` due queued sends as sending and returns them, oldest first.
  Result<std::vector<ClaimedSend>> claim_due(util::UnixTime now, int limit, const Lease& lease = {});
  // After a crash, what was in flight is queued again (it may go twice; nothing is lost).
  Result<int> requeue_in_flight();

  Status mark_sent(std::int64_t id, const std::string& message_id, int code, util::UnixTime now);
  Status mark_retry(std::int64_t id, util::UnixTime next_attempt_at, int code, const std::string& reply,
                    util::UnixTime now);
  Status mark_failed(std::int64_t id, int code, const std::string& reply, util::UnixTime now);
  // Back to the queue for a reason that is not this message's fault (a throttling destination,
  // a relay down or out of budget): no attempt is counted; `reason` shows on /status.
  Status mark_deferred(std::int64_t id, util::UnixTime next_attempt_at, int code, const std::string& reason,
                       util::UnixTime now);
  // Queued sends that carry a reason (deferred or retried), by campaign and reason.
  struct DeferredGroup {
    std::int64_t campaign_id = 0;
    std::string reason;
    std::int64_t count = 0;
    util::UnixTime next_attempt_at = 0;
  };
  Result<std::vector<DeferredGroup>> deferred_summary(int limit = 50);
  Status mark_skipped(std::int64_t id, const std::string& reason, util::UnixTime now);

  Result<std::optional<SendRef>> find(std::int64_t id);
  // By our Message-ID (without angle brackets): how provider events and replies find their send.
  Result<std::optional<SendRef>> find_by_message_id(const std::string& message_id);
  // Every send to one contact, for `campaignd export`: campaign name, state, message id, times.
  Result<nlohmann::json> for_contact(std::int64_t contact_id);

  // Whether one campaign has a send not yet finished (queued or sending). The scheduler asks it
  // every tick of every running campaign: a seek, never a count of the whole list.
  Result<bool> any_unfinished(std::int64_t campaign_id);
  // All queued sends, and those due now.
  Result<std::int64_t> queue_depth();
  Result<std::optional<util::UnixTime>> next_due_at();

  // ---- A/B tests and feedback policies (used by campaigns/scheduler and campaigns/send_policy) ----

  struct EnqueuePlan {
    std::int64_t campaign_id = 0;
    std::string where_sql;  // over contacts `c`, as for enqueue_matching (plain `?` parameters)
    std::vector<SqlValue> params;
    std::optional<std::string> topic;
    // An A/B test group: with two or more names, only round(fraction x eligible) contacts get a
    // row (at least one per variant while there are enough), the first ones in the order of a
    // hash of (seed, contact id); they are dealt to the variants round-robin in that order, so
    // the groups differ in size by at most one. Same seed, same contacts: same choice.
    std::vector<std::string> split_variants;
    double fraction = 1.0;
    std::int64_t seed = 0;
    // Without split_variants: the variant every new row carries (an A/B test's winner), or none.
    std::optional<std::string> variant;
    // send_time: best. Each new row's next_attempt_at is the first instant at or after this time
    // whose UTC hour is the hour of most of the contact's human opens (ties: the earliest hour);
    // a contact without human opens gets 0 (due at once). None: every row is due at once.
    std::optional<util::UnixTime> best_hour_from;
  };
  // Queues the plan's sends for eligible contacts (subscribed, unsuppressed, still in `topic`,
  // matching, without a row for this campaign yet). Returns how many rows the campaign has in all.
  Result<std::int64_t> enqueue_planned(const EnqueuePlan& plan);

  // Per variant of one campaign: sends in state sent, and how many of those contacts have a human
  // (machine = 0) event of `event_kind` for the campaign. Sends without a variant are left out.
  struct VariantResponses {
    std::string variant;
    std::int64_t sent = 0;
    std::int64_t responded = 0;
  };
  Result<std::vector<VariantResponses>> variant_responses(std::int64_t campaign_id, const std::string& event_kind);

  // How many broadcast mails (campaign files: not the built-in "_…" campaigns, not automation
  // steps "…#n") this contact was sent at or after `since`, plus those being sent right now whose
  // send id is lower than `before_send_id` (so of two concurrent sends, the later one yields).
  Result<std::int64_t> broadcasts_received(std::int64_t contact_id, util::UnixTime since, std::int64_t before_send_id);

 private:
  const Database& db_;
  std::string owner_;  // "" = no fence
};

}  // namespace campaignd::store
