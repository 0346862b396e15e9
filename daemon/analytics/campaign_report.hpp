// Everything `campaignd report` shows for one campaign: the funnel, and the same funnel per A/B
// variant and per recipient domain, clicks and conversions per link, cost per response, new
// customers acquired and responses hour by hour. For an automation: a funnel per step.
//
// Figures not in Funnel:
//   responses          distinct contacts who clicked, replied or converted (human events): the
//                      actions that cost per response pays for; opens are too unreliable (image
//                      proxies, privacy prefetch) to count as a response.
//   cost_per_response  the campaign file's `cost:` (campaigns.definition, key "cost") / responses;
//                      absent without a cost or without responses.
//   new_customers      contacts whose first purchase ever is a conversion credited to this
//                      campaign (their converted event has the time of contact_stats.first_purchase_at).
// Slices (variants, domains) count the campaign's sends and events whose send carries that
// variant / whose contact has that address domain; their recipients are their sends.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/analytics/funnel.hpp"
#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::analytics {

struct Slice {
  std::string key;  // the variant, or the domain; "(none)" / "(forgotten)" where there is none
  Funnel funnel;
};

struct LinkStats {
  std::string url;  // "(unknown)" collects clicks recorded without a link and conversions without a click
  std::int64_t clickers = 0;  // distinct contacts
  std::int64_t clicks = 0;    // human click events
  double click_rate = 0;      // clickers / delivered (or sent), as the funnel's rates
  double share_of_clickers = 0;  // clickers / the campaign's clickers
  std::int64_t conversions = 0;  // conversions whose send's last click before them was this link
  double revenue = 0;
};

struct HourPoint {
  util::UnixTime hour = 0;
  std::map<std::string, std::int64_t> events;    // kind -> human events that hour
  std::map<std::string, std::int64_t> contacts;  // kind -> contacts responding so for the first time
};

struct CampaignReport {
  std::int64_t campaign_id = 0;
  Funnel overall;
  std::optional<double> cost;
  std::int64_t responses = 0;
  std::optional<double> cost_per_response;
  std::int64_t new_customers = 0;
  std::vector<Slice> variants;  // empty unless some send carries a variant
  std::vector<Slice> domains;   // by recipients, largest first; past kMaxDomains merged as "(other)"
  std::vector<LinkStats> links;  // by clickers, most first
  std::vector<HourPoint> hourly;  // oldest first
};

inline constexpr size_t kMaxDomains = 20;

// An error when there is no campaign of that name.
Result<CampaignReport> campaign_report(const store::Database& db, const std::string& campaign_name);
nlohmann::json to_json(const CampaignReport& r);

// The funnel of each step campaign (`NAME#1`, `NAME#2`, ...) of automation `name`, in order;
// empty when it has none.
Result<std::vector<Funnel>> automation_step_funnels(const store::Database& db, const std::string& name);

}  // namespace campaignd::analytics
