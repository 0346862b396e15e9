#include "daemon/analytics/timeseries.hpp"

#include <algorithm>

namespace campaignd::analytics {

namespace {
constexpr util::UnixTime kHour = 3600;
}

Result<std::vector<HourlyPoint>> hourly_series(const store::Database& db, std::int64_t campaign_id) {
  // campaign_hourly is kept by triggers on events (migration 4), human events only, one row per
  // hour and kind: a page load reads a few dozen rows, not every event of the campaign.
  auto stmt = db.cached(
      "SELECT hour, COALESCE(SUM(CASE WHEN kind = 'opened' THEN events END), 0), "
      "       COALESCE(SUM(CASE WHEN kind = 'clicked' THEN events END), 0) "
      "FROM campaign_hourly WHERE campaign_id = ?1 AND kind IN ('opened', 'clicked') "
      "GROUP BY hour ORDER BY hour");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, campaign_id);
  std::vector<HourlyPoint> out;
  auto r = (*stmt)->each([&](const store::Statement& row) {
    out.push_back({row.column_int(0), row.column_int(1), row.column_int(2)});
  });
  if (!r) return std::unexpected(r.error());
  return out;
}

std::vector<HourlyPoint> fill_hours(const std::vector<HourlyPoint>& points, util::UnixTime first_hour,
                                    util::UnixTime last_hour) {
  std::vector<HourlyPoint> out;
  if (last_hour < first_hour) return out;
  out.reserve(static_cast<std::size_t>((last_hour - first_hour) / kHour + 1));
  auto it = std::lower_bound(points.begin(), points.end(), first_hour,
                             [](const HourlyPoint& p, util::UnixTime t) { return p.hour < t; });
  for (util::UnixTime h = first_hour; h <= last_hour; h += kHour) {
    HourlyPoint p{h, 0, 0};
    for (; it != points.end() && it->hour <= h; ++it)
      if (it->hour == h) {
        p.opens += it->opens;
        p.clicks += it->clicks;
      }
    out.push_back(p);
  }
  return out;
}

util::UnixTime hour_start(util::UnixTime t) { return (t >= 0 ? t / kHour : (t - kHour + 1) / kHour) * kHour; }

}  // namespace campaignd::analytics
