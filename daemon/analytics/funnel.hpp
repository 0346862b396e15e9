// A campaign's funnel: counts of distinct contacts per response kind (human events only) and
// the rates SPEC.md defines (fractions of delivered, or of sent where nothing reports delivery).
// The same shape serves a whole campaign and each slice of it (variant, recipient domain,
// automation step), see campaign_report.hpp.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"

namespace campaignd::analytics {

struct Funnel {
  std::string name;
  std::string state;
  std::int64_t recipients = 0, sent = 0, failed = 0, skipped = 0, queued = 0;
  std::int64_t delivered = 0, bounced = 0, opened = 0, clicked = 0, replied = 0, unsubscribed = 0, complained = 0;
  std::int64_t conversions = 0;
  double revenue = 0;
  double open_rate = 0, click_rate = 0, click_to_open_rate = 0, reply_rate = 0, bounce_rate = 0,
         unsubscribe_rate = 0, complaint_rate = 0;
};

// Adds `n` sends in `state` (queued sending sent failed skipped) to the send side.
void add_sends(Funnel& f, const std::string& state, std::int64_t n);
// Adds `contacts` distinct contacts (and `amount`, for conversions) of response `kind`; kinds
// the funnel does not show are ignored.
void add_responses(Funnel& f, const std::string& kind, std::int64_t contacts, double amount);
// Sums the counts of `part` into `total` (for slices whose contacts are disjoint).
void add_counts(Funnel& total, const Funnel& part);
// Computes every rate from the counts.
void finish_rates(Funnel& f);

// Read from the maintained aggregates (campaign_counts) and the sends table; an error when
// there is no campaign of that name.
Result<Funnel> campaign_funnel(const store::Database& db, const std::string& campaign_name);
nlohmann::json to_json(const Funnel& f);

}  // namespace campaignd::analytics
