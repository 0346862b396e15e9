// All SQL for the ab_decisions table.
#include "daemon/campaigns/ab_decisions.hpp"

#include <nlohmann/json.hpp>

namespace campaignd::campaigns {

Status record_ab_start(const store::Database& db, std::int64_t campaign_id, const AbTest& test,
                       std::int64_t test_size, util::UnixTime started_at) {
  // A campaign starts once; should it ever start again, the first test stands.
  auto stmt = db.cached(
      "INSERT INTO ab_decisions (campaign_id, state, metric, fraction, confidence, test_size, started_at, "
      "decide_at) VALUES (?1, 'testing', ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, campaign_id).bind(2, to_string(test.metric)).bind(3, test.fraction).bind(4, test.confidence);
  return (*stmt)->bind(5, test_size).bind(6, started_at).bind(7, started_at + test.wait_seconds).run();
}

Status record_ab_decision(const store::Database& db, std::int64_t campaign_id, const AbVerdict& verdict,
                          const std::vector<VariantNumbers>& numbers, std::int64_t remainder, util::UnixTime now) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& n : numbers)
    j.push_back({{"variant", n.variant}, {"sent", n.sent}, {"responded", n.responded}, {"rate", n.rate()}});
  auto stmt = db.cached(
      "UPDATE ab_decisions SET state = 'decided', test = ?2, statistic = ?3, p_value = ?4, significant = ?5, "
      "winner = ?6, numbers = ?7, remainder = ?8, decided_at = ?9 WHERE campaign_id = ?1 AND state = 'testing'");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, campaign_id).bind(2, verdict.test.test).bind(3, verdict.test.statistic);
  (*stmt)->bind(4, verdict.test.p_value).bind(5, verdict.significant ? 1 : 0).bind(6, verdict.winner);
  (*stmt)->bind(7, j.dump()).bind(8, remainder).bind(9, now);
  if (auto s = (*stmt)->run(); !s) return s;
  if (db.changes() != 1) return fail("campaign " + std::to_string(campaign_id) + " has no A/B test waiting");
  return {};
}

Result<std::vector<std::int64_t>> ab_tests_due(const store::Database& db, util::UnixTime now) {
  auto stmt = db.cached(
      "SELECT campaign_id FROM ab_decisions WHERE state = 'testing' AND decide_at <= ? ORDER BY decide_at, campaign_id");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<std::int64_t> out;
  auto s = (*stmt)->bind(1, now).each([&](const store::Statement& row) { out.push_back(row.column_int(0)); });
  if (!s) return std::unexpected(s.error());
  return out;
}

Result<bool> ab_test_pending(const store::Database& db, std::int64_t campaign_id) {
  auto stmt = db.cached("SELECT 1 FROM ab_decisions WHERE campaign_id = ? AND state = 'testing'");
  if (!stmt) return std::unexpected(stmt.error());
  bool pending = false;
  auto s = (*stmt)->bind(1, campaign_id).each([&](const store::Statement&) { pending = true; });
  if (!s) return std::unexpected(s.error());
  return pending;
}

Result<bool> any_ab_test_pending(const store::Database& db) {
  auto stmt = db.cached("SELECT 1 FROM ab_decisions WHERE state = 'testing' LIMIT 1");
  if (!stmt) return std::unexpected(stmt.error());
  bool pending = false;
  auto s = (*stmt)->each([&](const store::Statement&) { pending = true; });
  if (!s) return std::unexpected(s.error());
  return pending;
}

Result<std::optional<AbDecision>> load_ab_decision(const store::Database& db, std::int64_t campaign_id) {
  auto stmt = db.cached(
      "SELECT campaign_id, state, metric, fraction, confidence, test_size, started_at, decide_at, test, statistic, "
      "p_value, significant, winner, numbers, remainder, decided_at FROM ab_decisions WHERE campaign_id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  std::optional<AbDecision> out;
  auto s = (*stmt)->bind(1, campaign_id).each([&](const store::Statement& row) {
    AbDecision d;
    d.campaign_id = row.column_int(0);
    d.state = row.column_text(1);
    d.metric = row.column_text(2);
    d.fraction = row.column_double(3);
    d.confidence = row.column_double(4);
    d.test_size = row.column_int(5);
    d.started_at = row.column_int(6);
    d.decide_at = row.column_int(7);
    d.test = row.column_optional_text(8);
    if (!row.column_is_null(9)) d.statistic = row.column_double(9);
    if (!row.column_is_null(10)) d.p_value = row.column_double(10);
    d.significant = !row.column_is_null(11) && row.column_int(11) != 0;
    d.winner = row.column_optional_text(12);
    if (auto text = row.column_optional_text(13)) {
      auto j = nlohmann::json::parse(*text, nullptr, false);
      if (j.is_array())
        for (const auto& n : j)
          if (n.is_object())
            d.numbers.push_back({n.value("variant", std::string()), n.value("sent", std::int64_t{0}),
                                 n.value("responded", std::int64_t{0})});
    }
    if (!row.column_is_null(14)) d.remainder = row.column_int(14);
    if (!row.column_is_null(15)) d.decided_at = row.column_int(15);
    out = std::move(d);
  });
  if (!s) return std::unexpected(s.error());
  return out;
}

}  // namespace campaignd::campaigns
