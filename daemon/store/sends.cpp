#include "daemon/store/sends.hpp"

#include "daemon/store/pg/pg_send_leases.hpp"

#include <algorithm>
#include <tuple>

namespace campaignd::store {

namespace {

Result<std::int64_t> single_int(Statement& s) {
  auto row = s.step();
  if (!row) {
    s.reset();
    return std::unexpected(row.error());
  }
  std::int64_t v = *row ? s.column_int(0) : 0;
  s.reset();
  return v;
}

}  // namespace

Result<std::int64_t> SendRepository::enqueue_matching(std::int64_t campaign_id, const std::string& where_sql,
                                                      const std::vector<SqlValue>& params,
                                                      const std::optional<std::string>& topic) {
  // Segment SQL differs per campaign, so this statement is prepared afresh (it runs once).
  auto stmt = db_.prepare(
      "INSERT INTO sends (campaign_id, contact_id, state, next_attempt_at) "
      "SELECT ?1, c.id, 'queued', 0 FROM contacts c "
      "WHERE c.status = 'subscribed' "
      "AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = suppression_key(c.email)) "
      "AND NOT EXISTS (SELECT 1 FROM contact_topics t WHERE t.contact_id = c.id AND t.topic = ?2 "
      "                AND t.subscribed = 0) AND (" +
      where_sql + ") ON CONFLICT DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(1, campaign_id);
  stmt->bind(2, topic);
  stmt->bind_all(params, 3);
  if (auto s = stmt->run(); !s) return std::unexpected(s.error());
  auto count = db_.cached("SELECT COUNT(*) FROM sends WHERE campaign_id = ?");
  if (!count) return std::unexpected(count.error());
  (*count)->bind(1, campaign_id);
  return single_int(**count);
}

Status SendRepository::enqueue_one(std::int64_t campaign_id, std::int64_t contact_id, util::UnixTime now) {
  auto stmt = db_.cached(
      "INSERT INTO sends (campaign_id, contact_id, state, next_attempt_at, updated_at) VALUES (?1, ?2, 'queued', 0, ?3) "
      "ON CONFLICT(campaign_id, contact_id, occurrence) DO UPDATE SET state = 'queued', attempts = 0, next_attempt_at = 0, "
      "message_id = NULL, updated_at = ?3 WHERE sends.state <> 'sending'");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, campaign_id).bind(2, contact_id).bind(3, now).run();
}

Result<std::vector<ClaimedSend>> SendRepository::claim_due(util::UnixTime now, int limit, const Lease& lease) {
  if (auto* postgresql = db_.postgresql_connection())
    return pg::claim_due_leased(*postgresql, lease.owner.empty() ? "campaignd" : lease.owner, now,
                                lease.until > now ? lease.until : now + 60, limit);
  auto stmt = db_.cached(
      "UPDATE sends SET state = 'sending', updated_at = ?1 WHERE id IN ("
      "  SELECT id FROM sends WHERE state = 'queued' AND next_attempt_at <= ?1 "
      "  ORDER BY next_attempt_at, id LIMIT ?2) "
      "RETURNING id, campaign_id, contact_id, attempts, context, next_attempt_at, variant");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<std::pair<util::UnixTime, ClaimedSend>> rows;
  auto s = (*stmt)->bind(1, now).bind(2, limit).each([&](const Statement& row) {
    rows.emplace_back(row.column_int(5),
                      ClaimedSend{row.column_int(0), row.column_int(1), row.column_int(2),
                                  static_cast<int>(row.column_int(3)), row.column_optional_text(4),
                                  row.column_optional_text(6)});
  });
  if (!s) return std::unexpected(s.error());
  return in_due_order(std::move(rows));
}

std::vector<ClaimedSend> in_due_order(std::vector<std::pair<util::UnixTime, ClaimedSend>> rows) {
  std::sort(rows.begin(), rows.end(),
            [](const auto& a, const auto& b) { return std::tie(a.first, a.second.id) < std::tie(b.first, b.second.id); });
  std::vector<ClaimedSend> out;
  out.reserve(rows.size());
  for (auto& [due, send] : rows) out.push_back(std::move(send));
  return out;
}

Result<int> SendRepository::requeue_in_flight() {
  auto stmt = db_.cached("UPDATE sends SET state = 'queued' WHERE state = 'sending'");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = (*stmt)->run(); !s) return std::unexpected(s.error());
  return db_.changes();
}

Status SendRepository::mark_sent(std::int64_t id, const std::string& message_id, int code, util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE sends SET state = 'sent', attempts = attempts + 1, message_id = ?2, last_code = ?3, "
      "last_error = NULL, sent_at = ?4, updated_at = ?4 WHERE id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, message_id).bind(3, code).bind(4, now).run();
}

Status SendRepository::mark_retry(std::int64_t id, util::UnixTime next_attempt_at, int code, const std::string& reply,
                                  util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE sends SET state = 'queued', attempts = attempts + 1, next_attempt_at = ?2, last_code = ?3, "
      "last_error = ?4, updated_at = ?5 WHERE id = ?1 AND (lease_owner IS NULL OR lease_owner = ?6 OR ?6 = '')");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, next_attempt_at).bind(3, code).bind(4, reply).bind(5, now).bind(6, owner_).run();
}

Status SendRepository::mark_deferred(std::int64_t id, util::UnixTime next_attempt_at, int code,
                                     const std::string& reason, util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE sends SET state = 'queued', next_attempt_at = ?2, last_code = ?3, last_error = ?4, updated_at = ?5 "
      "WHERE id = ?1 AND state = 'sending' AND (lease_owner IS NULL OR lease_owner = ?6 OR ?6 = '')");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, next_attempt_at).bind(3, code).bind(4, reason).bind(5, now).bind(6, owner_).run();
}

Result<std::vector<SendRepository::DeferredGroup>> SendRepository::deferred_summary(int limit) {
  auto stmt = db_.cached(
      "SELECT campaign_id, last_error, COUNT(*), MIN(next_attempt_at) FROM sends "
      "WHERE state = 'queued' AND last_error IS NOT NULL GROUP BY campaign_id, last_error "
      "ORDER BY COUNT(*) DESC LIMIT ?1");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<DeferredGroup> out;
  auto s = (*stmt)->bind(1, limit).each([&](const Statement& row) {
    out.push_back({row.column_int(0), row.column_text(1), row.column_int(2), row.column_int(3)});
  });
  if (!s) return std::unexpected(s.error());
  return out;
}

Status SendRepository::mark_failed(std::int64_t id, int code, const std::string& reply, util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE sends SET state = 'failed', attempts = attempts + 1, last_code = ?2, last_error = ?3, "
      "updated_at = ?4 WHERE id = ?1 AND (lease_owner IS NULL OR lease_owner = ?5 OR ?5 = '')");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, code).bind(3, reply).bind(4, now).bind(5, owner_).run();
}

Status SendRepository::mark_skipped(std::int64_t id, const std::string& reason, util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE sends SET state = 'skipped', last_error = ?2, updated_at = ?3 "
      "WHERE id = ?1 AND (lease_owner IS NULL OR lease_owner = ?4 OR ?4 = '')");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, reason).bind(3, now).bind(4, owner_).run();
}

namespace {

constexpr const char* kSendRefColumns = "id, campaign_id, contact_id, state, sent_at, message_id";

Result<std::optional<SendRef>> read_send_ref(Statement& stmt) {
  auto row = stmt.step();
  if (!row) {
    stmt.reset();
    return std::unexpected(row.error());
  }
  std::optional<SendRef> out;
  if (*row) {
    SendRef r;
    r.id = stmt.column_int(0);
    r.campaign_id = stmt.column_int(1);
    if (!stmt.column_is_null(2)) r.contact_id = stmt.column_int(2);
    r.state = stmt.column_text(3);
    if (!stmt.column_is_null(4)) r.sent_at = stmt.column_int(4);
    r.message_id = stmt.column_optional_text(5);
    out = r;
  }
  stmt.reset();
  return out;
}

}  // namespace

Result<std::optional<SendRef>> SendRepository::find(std::int64_t id) {
  auto stmt = db_.cached(std::string("SELECT ") + kSendRefColumns + " FROM sends WHERE id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id);
  return read_send_ref(**stmt);
}

Result<std::optional<SendRef>> SendRepository::find_by_message_id(const std::string& message_id) {
  auto stmt = db_.cached(std::string("SELECT ") + kSendRefColumns + " FROM sends WHERE message_id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, message_id);
  return read_send_ref(**stmt);
}

Result<nlohmann::json> SendRepository::for_contact(std::int64_t contact_id) {
  auto stmt = db_.cached(
      "SELECT c.name, s.state, s.message_id, s.sent_at, s.last_code, s.last_error FROM sends s "
      "JOIN campaigns c ON c.id = s.campaign_id WHERE s.contact_id = ? ORDER BY s.id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id);
  nlohmann::json out = nlohmann::json::array();
  auto r = (*stmt)->each([&](const Statement& s) {
    nlohmann::json j = {{"campaign", s.column_text(0)}, {"state", s.column_text(1)}};
    if (!s.column_is_null(2)) j["message_id"] = s.column_text(2);
    if (!s.column_is_null(3)) j["sent_at"] = util::format_iso8601(s.column_int(3));
    if (!s.column_is_null(4)) j["last_code"] = s.column_int(4);
    if (!s.column_is_null(5)) j["last_error"] = s.column_text(5);
    out.push_back(std::move(j));
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<bool> SendRepository::any_unfinished(std::int64_t campaign_id) {
  auto stmt = db_.cached(
      "SELECT EXISTS (SELECT 1 FROM sends WHERE campaign_id = ? AND state IN ('queued','sending'))");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, campaign_id);
  auto found = single_int(**stmt);
  if (!found) return std::unexpected(found.error());
  return *found != 0;
}

Result<std::int64_t> SendRepository::queue_depth() {
  auto stmt = db_.cached("SELECT COUNT(*) FROM sends WHERE state IN ('queued','sending')");
  if (!stmt) return std::unexpected(stmt.error());
  return single_int(**stmt);
}

Result<std::optional<util::UnixTime>> SendRepository::next_due_at() {
  auto stmt = db_.cached("SELECT MIN(next_attempt_at) FROM sends WHERE state = 'queued'");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = (*stmt)->step();
  if (!row) {
    (*stmt)->reset();
    return std::unexpected(row.error());
  }
  std::optional<util::UnixTime> v;
  if (*row && !(*stmt)->column_is_null(0)) v = (*stmt)->column_int(0);
  (*stmt)->reset();
  return v;
}

// ---- A/B tests and feedback policies ----


Result<std::int64_t> SendRepository::enqueue_planned(const EnqueuePlan& plan) {
  nlohmann::json variants = plan.split_variants.size() >= 2 ? nlohmann::json(plan.split_variants) : nlohmann::json::array();
  // `args` names the fixed parameters first, so the segment's plain `?` parameters number from 8.
  // best_hour: start of the hour of best_from, plus the hours until the contact's favourite hour;
  // MAX() keeps best_from itself when that hour is the current one.
  const bool postgresql = db_.is_postgresql();
  // PostgreSQL must be told the parameters' types (nothing around them says), reads JSON with
  // jsonb functions, and calls scalar MAX/MIN GREATEST/LEAST.
  const std::string args_select = postgresql ? "?1::bigint, ?2::text, ?3::jsonb, ?4::double precision, ?5::bigint, "
                                               "?6::text, ?7::bigint"
                                             : "?1, ?2, ?3, ?4, ?5, ?6, ?7";
  const std::string variant_count = postgresql ? "jsonb_array_length(a.variants)" : "json_array_length(a.variants)";
  const std::string variant_pick =
      postgresql ? "a.variants->>((r.r % jsonb_array_length(a.variants))::int)"
                 : "json_extract(a.variants, '$[' || (r.r % json_array_length(a.variants)) || ']')";
  const std::string greatest = postgresql ? "GREATEST" : "MAX", least = postgresql ? "LEAST" : "MIN";
  // Rounds half up: SQLite's CAST truncates, PostgreSQL's rounds, so it floors first.
  const std::string test_size = postgresql ? "CAST(floor(r.n * a.fraction + 0.5) AS BIGINT)"
                                           : "CAST(r.n * a.fraction + 0.5 AS INTEGER)";
  std::string sql =
      "WITH args(campaign_id, topic, variants, fraction, seed, fixed_variant, best_from) AS "
      "  (SELECT " + args_select + "), "
      "eligible AS ("
      "  SELECT c.id AS contact_id, campaignd_mix(a.seed, c.id) AS h FROM contacts c, args a "
      "  WHERE c.status = 'subscribed' "
      "  AND NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = suppression_key(c.email)) "
      "  AND NOT EXISTS (SELECT 1 FROM contact_topics t WHERE t.contact_id = c.id AND t.topic = a.topic "
      "                  AND t.subscribed = 0) "
      "  AND NOT EXISTS (SELECT 1 FROM sends x WHERE x.campaign_id = a.campaign_id AND x.contact_id = c.id) "
      "  AND (" + plan.where_sql + ")), "
      "ranked AS (SELECT contact_id, row_number() OVER (ORDER BY h, contact_id) - 1 AS r, COUNT(*) OVER () AS n "
      "           FROM eligible), "
      "chosen AS ("
      "  SELECT r.contact_id, CASE WHEN " + variant_count + " > 0 "
      "    THEN " + variant_pick + " "
      "    ELSE a.fixed_variant END AS variant "
      "  FROM ranked r, args a "
      "  WHERE " + variant_count + " = 0 "
      "     OR r.r < " + greatest + "(" + least + "(r.n, " + variant_count + "), " + test_size + ")) "
      "INSERT INTO sends (campaign_id, contact_id, state, next_attempt_at, variant) "
      "SELECT a.campaign_id, ch.contact_id, 'queued', "
      "  CASE WHEN a.best_from IS NULL THEN 0 ELSE COALESCE(("
      "    SELECT " + greatest + "(a.best_from, a.best_from - a.best_from % 3600 + ((o.hh - (a.best_from % 86400) / 3600 + 24) % 24) * 3600) "
      "    FROM (SELECT (e.at % 86400) / 3600 AS hh FROM events e "
      "          WHERE e.contact_id = ch.contact_id AND e.kind = 'opened' AND e.machine = 0 "
      "          GROUP BY hh ORDER BY COUNT(*) DESC, hh LIMIT 1) o), 0) END, "
      "  ch.variant "
      "FROM chosen ch, args a WHERE true ON CONFLICT DO NOTHING";
  auto stmt = db_.prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(1, plan.campaign_id).bind(2, plan.topic).bind(3, variants.dump()).bind(4, plan.fraction);
  stmt->bind(5, plan.seed).bind(6, plan.variant);
  if (plan.best_hour_from) stmt->bind(7, *plan.best_hour_from);
  else stmt->bind(7, nullptr);
  stmt->bind_all(plan.params, 8);
  if (auto s = stmt->run(); !s) return std::unexpected(s.error());
  auto count = db_.cached("SELECT COUNT(*) FROM sends WHERE campaign_id = ?");
  if (!count) return std::unexpected(count.error());
  (*count)->bind(1, plan.campaign_id);
  return single_int(**count);
}

Result<std::vector<SendRepository::VariantResponses>> SendRepository::variant_responses(std::int64_t campaign_id,
                                                                                        const std::string& event_kind) {
  auto stmt = db_.cached(
      "SELECT s.variant, COUNT(*), "
      "  COUNT(CASE WHEN EXISTS (SELECT 1 FROM events e WHERE e.contact_id = s.contact_id "
      "    AND e.kind = ?2 AND e.campaign_id = s.campaign_id AND e.machine = 0) THEN 1 END) "
      "FROM sends s WHERE s.campaign_id = ?1 AND s.variant IS NOT NULL AND s.state = 'sent' "
      "GROUP BY s.variant ORDER BY s.variant");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<VariantResponses> out;
  auto s = (*stmt)->bind(1, campaign_id).bind(2, event_kind).each([&](const Statement& row) {
    out.push_back({row.column_text(0), row.column_int(1), row.column_int(2)});
  });
  if (!s) return std::unexpected(s.error());
  return out;
}

Result<std::int64_t> SendRepository::broadcasts_received(std::int64_t contact_id, util::UnixTime since,
                                                         std::int64_t before_send_id) {
  auto stmt = db_.cached(
      "SELECT COUNT(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id "
      "WHERE s.contact_id = ?1 AND k.name NOT LIKE '\\_%' ESCAPE '\\' AND k.name NOT LIKE '%#%' "
      "AND ((s.state = 'sent' AND s.sent_at >= ?2) OR (s.state = 'sending' AND s.id < ?3))");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id).bind(2, since).bind(3, before_send_id);
  return single_int(**stmt);
}

}  // namespace campaignd::store
