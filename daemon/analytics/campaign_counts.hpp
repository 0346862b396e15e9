// Per-campaign response figures read from the aggregates migration 4's triggers maintain
// (campaign_counts, campaign_hourly), so /status and reports never GROUP BY over events.
//
// Both count human events (machine = 0) of a known contact, of every kind but `sent` (the sends
// table counts those). `contacts` is distinct contacts, the figure SPEC.md's funnel uses; an
// event matched to no contact is not counted. Forgetting a contact takes it out of the counts.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::analytics {

struct KindCount {
  std::int64_t contacts = 0;  // distinct contacts with at least one such event
  double amount = 0;  // sum of events.amount (revenue, for `converted`)
};

// campaign id -> kind -> distinct contacts: what /status shows under each campaign's "events"
// (kinds with no contact left out). One read of a table with a row per campaign and kind.
Result<std::map<std::int64_t, std::map<std::string, std::int64_t>>> campaign_response_counts(const store::Database& db);
// One campaign, every figure.
Result<std::map<std::string, KindCount>> campaign_kind_counts(const store::Database& db, std::int64_t campaign_id);

// One hour of responses. Kinds bucketed: opened, clicked, replied, unsubscribed, converted.
struct HourlyCount {
  util::UnixTime hour = 0;  // start of the hour, UTC
  std::string kind;
  std::int64_t events = 0;
  std::int64_t contacts = 0;  // contacts whose first response of this kind was recorded this hour
};
// Oldest first; hours with nothing are absent.
Result<std::vector<HourlyCount>> campaign_hourly_counts(const store::Database& db, std::int64_t campaign_id);

}  // namespace campaignd::analytics
