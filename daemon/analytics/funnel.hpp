// A campaign's funnel: counts of distinct contacts per response kind (human events only) and
// the rates SPEC.md defines (fractions of delivered, or of sent where nothing reports delivery).
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

// nullopt-like error when there is no campaign of that name.
Result<Funnel> campaign_funnel(const store::Database& db, const std::string& campaign_name);
nlohmann::json to_json(const Funnel& f);

}  // namespace campaignd::analytics
