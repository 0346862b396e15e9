// The engagement score's constants and arithmetic, shared by the segment catalog (SQL at query
// time) and by readers in C++. The same numbers are written into migration 4's triggers, which
// keep contact_stats.engagement current; tests/unit/analytics checks that both agree.
//
// engagement is a sum of weights (opened 1, clicked 2, replied 3; human events only) in which
// every event halves in value each 30 days: an open today counts 1, one 30 days ago 0.5, one
// 60 days ago 0.25. It is stored as (sum, reference time) and read by decaying the sum to now.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::analytics {

inline constexpr std::int64_t kEngagementHalfLifeSeconds = 30 * 86400;  // 2592000.0 in migration 4

// The weight of one human event of `kind`; 0 for kinds that are not engagement.
constexpr double engagement_weight(std::string_view kind) {
  if (kind == "opened") return 1.0;
  if (kind == "clicked") return 2.0;
  if (kind == "replied") return 3.0;
  return 0.0;
}

// The stored sum read at `now`. A reference time in the future (clock skew, imported dates)
// reads as if it were now, never as more than was stored.
inline double decayed_engagement(double stored, util::UnixTime stored_at, util::UnixTime now) {
  double age = static_cast<double>(now - stored_at);
  if (age <= 0) return stored;
  return stored * std::exp2(-age / static_cast<double>(kEngagementHalfLifeSeconds));
}

// SQL for the same reading, over the columns `engagement` and `engagement_at` of alias `s` and a
// bound `now` (the one `?` the caller binds). NULL engagement_at reads as 0.
inline std::string decayed_engagement_sql(store::Dialect dialect = store::Dialect::sqlite) {
  const std::string half_life = std::to_string(kEngagementHalfLifeSeconds) + ".0";
  if (dialect == store::Dialect::postgresql)
    // LEAST skips a NULL where SQLite's MIN returns it: the CASE keeps a NULL time NULL.
    return "COALESCE(s.engagement * power(2.0::float8, CASE WHEN s.engagement_at IS NOT NULL THEN "
           "LEAST(0, s.engagement_at - ?) END / " + half_life + "::float8), 0.0)";
  return "COALESCE(s.engagement * pow(2.0, MIN(0, s.engagement_at - ?) / " + half_life + "), 0.0)";
}

}  // namespace campaignd::analytics
