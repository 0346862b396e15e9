#include "daemon/store/campaigns.hpp"

namespace campaignd::store {

namespace {

constexpr const char* kColumns = "id, name, file, state, schedule_at, recipients, started_at, finished_at, error";

CampaignRow read_row(const Statement& s) {
  CampaignRow r;
  r.id = s.column_int(0);
  r.name = s.column_text(1);
  r.file = s.column_text(2);
  r.state = s.column_text(3);
  r.schedule_at = s.column_int(4);
  r.recipients = s.column_int(5);
  if (!s.column_is_null(6)) r.started_at = s.column_int(6);
  if (!s.column_is_null(7)) r.finished_at = s.column_int(7);
  r.error = s.column_optional_text(8);
  return r;
}

Result<std::vector<CampaignRow>> read_all(Statement& s) {
  std::vector<CampaignRow> out;
  if (auto r = s.each([&](const Statement& row) { out.push_back(read_row(row)); }); !r)
    return std::unexpected(r.error());
  return out;
}

}  // namespace

Result<CampaignRow> CampaignRepository::upsert(const std::string& name, const std::string& file,
                                               const std::string& definition_json, util::UnixTime schedule_at,
                                               util::UnixTime now) {
  auto stmt = db_.cached(
      "INSERT INTO campaigns (name, file, definition, state, schedule_at, created_at, updated_at) "
      "VALUES (?1, ?2, ?3, 'scheduled', ?4, ?5, ?5) "
      "ON CONFLICT(name) DO UPDATE SET file = excluded.file, definition = excluded.definition, "
      "  schedule_at = CASE WHEN campaigns.state = 'scheduled' THEN excluded.schedule_at ELSE campaigns.schedule_at END, "
      "  updated_at = excluded.updated_at");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, name).bind(2, file).bind(3, definition_json).bind(4, schedule_at).bind(5, now);
  if (auto s = (*stmt)->run(); !s) return std::unexpected(s.error());
  auto row = find(name);
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail("campaign " + name + " vanished after upsert");
  return **row;
}

Result<std::optional<CampaignRow>> CampaignRepository::find(const std::string& name) {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns + " FROM campaigns WHERE name = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, name);
  auto rows = read_all(**stmt);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<CampaignRow>();
  return std::optional<CampaignRow>(rows->front());
}

Result<std::vector<CampaignRow>> CampaignRepository::list() {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns + " FROM campaigns ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  return read_all(**stmt);
}

Result<std::vector<CampaignRow>> CampaignRepository::due(util::UnixTime now) {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns +
                         " FROM campaigns WHERE state = 'scheduled' AND schedule_at <= ? ORDER BY schedule_at, id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, now);
  return read_all(**stmt);
}

Status CampaignRepository::mark_started(std::int64_t id, std::int64_t recipients, util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE campaigns SET state = 'running', recipients = ?2, started_at = COALESCE(started_at, ?3), "
      "updated_at = ?3 WHERE id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, recipients).bind(3, now).run();
}

Status CampaignRepository::set_state(std::int64_t id, const std::string& state, util::UnixTime now,
                                     const std::optional<std::string>& error) {
  auto stmt = db_.cached(
      "UPDATE campaigns SET state = ?2, error = ?3, updated_at = ?4, "
      "finished_at = CASE WHEN ?2 IN ('done','failed') THEN ?4 ELSE finished_at END WHERE id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, state).bind(3, error).bind(4, now).run();
}

Result<std::optional<std::string>> CampaignRepository::topic_of(std::int64_t id) {
  auto stmt = db_.cached(db_.sql("SELECT json_extract(definition, '$.topic') FROM campaigns WHERE id = ?",
                                 "SELECT definition->>'topic' FROM campaigns WHERE id = ?"));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id);
  auto row = (*stmt)->step();
  if (!row) {
    (*stmt)->reset();
    return std::unexpected(row.error());
  }
  std::optional<std::string> topic;
  if (*row) topic = (*stmt)->column_optional_text(0);
  (*stmt)->reset();
  return topic;
}

Result<SendCounts> CampaignRepository::send_counts(std::int64_t id) {
  auto stmt = db_.cached("SELECT state, COUNT(*) FROM sends WHERE campaign_id = ? GROUP BY state");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id);
  SendCounts c;
  auto r = (*stmt)->each([&](const Statement& row) {
    std::string state = row.column_text(0);
    std::int64_t n = row.column_int(1);
    if (state == "queued") c.queued = n;
    else if (state == "sending") c.sending = n;
    else if (state == "sent") c.sent = n;
    else if (state == "failed") c.failed = n;
    else if (state == "skipped") c.skipped = n;
  });
  if (!r) return std::unexpected(r.error());
  return c;
}

}  // namespace campaignd::store
