// SQL over sends and events for the automation engine.
#include "daemon/automation/step_sends.hpp"

#include "daemon/store/campaigns.hpp"

namespace campaignd::automation {

Result<std::vector<store::Event>> events_after(const store::Database& db, std::int64_t after, int limit) {
  auto stmt = db.cached(
      "SELECT id, kind, contact_id, campaign_id, send_id, at, amount, machine, provider_event_id, data "
      "FROM events WHERE id > ? ORDER BY id LIMIT ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, after).bind(2, limit);
  std::vector<store::Event> out;
  while (true) {
    auto row = (*stmt)->step();
    if (!row) {
      (*stmt)->reset();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    const store::Statement& s = **stmt;
    store::Event e;
    e.id = s.column_int(0);
    e.kind = s.column_text(1);
    if (!s.column_is_null(2)) e.contact_id = s.column_int(2);
    if (!s.column_is_null(3)) e.campaign_id = s.column_int(3);
    if (!s.column_is_null(4)) e.send_id = s.column_int(4);
    e.at = s.column_int(5);
    if (!s.column_is_null(6)) e.amount = s.column_double(6);
    e.machine = s.column_int(7) != 0;
    e.provider_event_id = s.column_optional_text(8);
    auto data = nlohmann::json::parse(s.column_text(9), nullptr, false);
    if (data.is_object()) e.data = std::move(data);
    out.push_back(std::move(e));
  }
  (*stmt)->reset();
  return out;
}

Result<std::int64_t> last_event_id(const store::Database& db) {
  auto stmt = db.cached("SELECT COALESCE(MAX(id), 0) FROM events");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = (*stmt)->step();
  if (!row) {
    (*stmt)->reset();
    return std::unexpected(row.error());
  }
  std::int64_t id = *row ? (*stmt)->column_int(0) : 0;
  (*stmt)->reset();
  return id;
}

Result<bool> enqueue_step_send(const store::Database& db, std::int64_t campaign_id, std::int64_t contact_id,
                               std::int64_t enrollment_id, const nlohmann::json& context, util::UnixTime now) {
  auto stmt = db.cached(
      "INSERT INTO sends (campaign_id, contact_id, occurrence, state, next_attempt_at, updated_at, context) "
      "VALUES (?1, ?2, ?3, 'queued', 0, ?4, ?5) ON CONFLICT DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, campaign_id).bind(2, contact_id).bind(3, enrollment_id).bind(4, now);
  if (context.is_null()) (*stmt)->bind(5, nullptr);
  else (*stmt)->bind(5, context.dump());
  if (auto s = (*stmt)->run(); !s) return std::unexpected(s.error());
  return db.changes() > 0;
}

Result<StepCounts> step_counts(const store::Database& db, std::int64_t campaign_id) {
  StepCounts c;
  // The sends side is the campaign's own counts: one query, in the table's repository.
  auto sends = store::CampaignRepository(db).send_counts(campaign_id);
  if (!sends) return std::unexpected(sends.error());
  c.queued = sends->queued + sends->sending;
  c.sent = sends->sent;
  c.failed = sends->failed;
  c.skipped = sends->skipped;
  auto events = db.cached(
      "SELECT kind, COUNT(DISTINCT contact_id) FROM events WHERE campaign_id = ? AND machine = 0 "
      "AND kind IN ('opened', 'clicked', 'replied') GROUP BY kind");
  if (!events) return std::unexpected(events.error());
  (*events)->bind(1, campaign_id);
  auto r = (*events)->each([&](const store::Statement& row) {
    std::string kind = row.column_text(0);
    std::int64_t n = row.column_int(1);
    if (kind == "opened") c.opened = n;
    else if (kind == "clicked") c.clicked = n;
    else if (kind == "replied") c.replied = n;
  });
  if (!r) return std::unexpected(r.error());
  return c;
}

}  // namespace campaignd::automation
