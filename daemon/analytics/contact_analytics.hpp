// One contact's analytics as the segment fields see them: last responses, engagement score
// read at `now`, purchases and RFM scores. Read from contact_stats (kept by migration 4's
// triggers) and rfm_boundaries by primary key, and the last `sent` event by one index seek.
#pragma once

#include <cstdint>
#include <optional>

#include <nlohmann/json.hpp>

#include "daemon/analytics/rfm.hpp"
#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::analytics {

struct ContactAnalytics {
  std::optional<util::UnixTime> last_open_at, last_click_at, last_reply_at, last_received_at;
  std::optional<util::UnixTime> first_purchase_at, last_purchase_at;
  std::int64_t frequency = 0;            // purchases
  double monetary = 0;                   // sum of purchase amounts
  std::optional<std::int64_t> recency_days;  // whole days since the last purchase
  double engagement_score = 0;
  std::optional<RfmScores> rfm;          // buyers only, once boundaries exist
};

// A contact with no recorded activity gets all-empty figures (not an error).
Result<ContactAnalytics> contact_analytics(const store::Database& db, std::int64_t contact_id, util::UnixTime now);
nlohmann::json to_json(const ContactAnalytics& a);

}  // namespace campaignd::analytics
