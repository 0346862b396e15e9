// Responses over time: a campaign's human opens and clicks per hour, for the status page's
// charts. Read from the events table (machine hits excluded, as in every rate).
#pragma once

#include <cstdint>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::analytics {

struct HourlyPoint {
  util::UnixTime hour = 0;  // Unix seconds at the start of the hour (UTC)
  std::int64_t opens = 0, clicks = 0;  // events, not distinct contacts: a chart of activity
};

// One point per hour that has at least one human open or click, oldest first; hours with
// neither are absent (see fill_hours). Empty for a campaign with no responses or no such id.
Result<std::vector<HourlyPoint>> hourly_series(const store::Database& db, std::int64_t campaign_id);

// The dense series a chart draws: one point per hour from `first_hour` to `last_hour` (both
// hour starts, inclusive), zeros where `points` has none; points outside are left out. Empty
// when last_hour < first_hour. `points` must be sorted by hour, as hourly_series returns them.
std::vector<HourlyPoint> fill_hours(const std::vector<HourlyPoint>& points, util::UnixTime first_hour,
                                    util::UnixTime last_hour);

// The start of the hour `t` falls in.
util::UnixTime hour_start(util::UnixTime t);

}  // namespace campaignd::analytics
