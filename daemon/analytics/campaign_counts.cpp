// Reads of campaign_counts and campaign_hourly.
#include "daemon/analytics/campaign_counts.hpp"

namespace campaignd::analytics {

Result<std::map<std::int64_t, std::map<std::string, std::int64_t>>> campaign_response_counts(const store::Database& db) {
  auto stmt = db.cached("SELECT campaign_id, kind, contacts FROM campaign_counts WHERE contacts > 0");
  if (!stmt) return std::unexpected(stmt.error());
  std::map<std::int64_t, std::map<std::string, std::int64_t>> out;
  auto r = (*stmt)->each(
      [&](const store::Statement& row) { out[row.column_int(0)][row.column_text(1)] = row.column_int(2); });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<std::map<std::string, KindCount>> campaign_kind_counts(const store::Database& db, std::int64_t campaign_id) {
  auto stmt = db.cached("SELECT kind, contacts, amount FROM campaign_counts WHERE campaign_id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, campaign_id);
  std::map<std::string, KindCount> out;
  auto r = (*stmt)->each([&](const store::Statement& row) {
    out[row.column_text(0)] = KindCount{row.column_int(1), row.column_double(2)};
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<std::vector<HourlyCount>> campaign_hourly_counts(const store::Database& db, std::int64_t campaign_id) {
  auto stmt = db.cached(
      "SELECT hour, kind, events, contacts FROM campaign_hourly WHERE campaign_id = ? AND events > 0 "
      "ORDER BY hour, kind");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, campaign_id);
  std::vector<HourlyCount> out;
  auto r = (*stmt)->each([&](const store::Statement& row) {
    out.push_back(HourlyCount{row.column_int(0), row.column_text(1), row.column_int(2), row.column_int(3)});
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace campaignd::analytics
