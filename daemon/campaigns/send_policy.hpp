// Feedback policies of a campaign file: who is left out when the list is built (the sunset rule
// `exclude_unengaged:` and `frequency_cap:`), and the frequency cap again when a send goes out.
//
// What counts, precisely:
// - Human engagement is an opened, clicked or replied event with machine = 0 (prefetchers and
//   scanners do not keep a contact alive).
// - exclude_unengaged: WINDOW leaves out a contact who has been with us longer than the window
//   (created_at, or a `sent` event, before now - WINDOW) and has no human engagement at or after
//   now - WINDOW. Newer contacts get their chance; engaged ones stay.
// - frequency_cap: K/PERIOD counts broadcast mails: sends in state sent, with sent_at within the
//   period, of campaigns that come from campaign files. The built-in double opt-in confirmation
//   ("_…") and automation steps ("…#n": welcome drips, autoresponders) do not count, because the
//   contact's own action asked for them; the cap is about the volume of mail nobody asked for.
//   The cap is applied by the capped campaign only: other campaigns are not held back by it.
//   At enqueue a contact with >= K such mails is left out; at send time (other campaigns send in
//   between) the same count, plus broadcasts in flight with a lower send id, refuses the send.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/campaigns/prepared_campaign.hpp"
#include "daemon/store/database.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::campaigns {

// A condition over contacts `c` (plain `?` parameters), to AND with the segment's.
struct PolicyFilter {
  std::string sql = "TRUE";
  std::vector<store::SqlValue> params;
};

// The enqueue-time filter for `campaign`'s sunset rule and frequency cap ("TRUE" when it has neither).
// The SQL is the same on SQLite and PostgreSQL.
PolicyFilter enqueue_filter(const Campaign& campaign, util::UnixTime now);

// The segment's condition and the policy filter together, as one condition over contacts `c`.
PolicyFilter with_policies(const std::string& segment_sql, const std::vector<store::SqlValue>& segment_params,
                           const Campaign& campaign, util::UnixTime now);

// Called by the delivery engine for each claimed send, after the contact's status, suppression
// and topic checks and before composing: a reason to skip the send (mark_skipped), or nullopt to
// go on. `reader` is the worker's read connection.
Result<std::optional<std::string>> send_time_refusal(const store::Database& reader, const PreparedCampaign& campaign,
                                                     const store::ClaimedSend& send, util::UnixTime now);

}  // namespace campaignd::campaigns
