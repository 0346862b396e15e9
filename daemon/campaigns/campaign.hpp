// A campaign as the engine sees it: parsed once, at the edge, from a campaign file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/util/clock.hpp"
#include "daemon/util/email_address.hpp"
#include "daemon/util/rate.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::campaigns {

// Marketing campaigns come from files; the confirmation mail of double opt-in is a built-in
// campaign that goes to pending contacts only and carries no List-Unsubscribe.
enum class CampaignKind { marketing, confirmation };

// ---- A/B testing and feedback policies (issue 7) ----

// One arm of an A/B test: its own subject and/or template; what it leaves out is the campaign's.
struct Variant {
  std::string name;  // a short identifier, stored in sends.variant
  std::optional<std::string> subject;
  std::optional<std::string> template_name;
  SourcePlace place;           // the variant's entry, for errors
  SourcePlace template_place;  // where its `template:` is (or the campaign's, when it has none)
};

// What an A/B test counts per variant: distinct human contacts with such an event.
enum class AbMetric { opens, clicks, replies, conversions };
inline const char* to_string(AbMetric m) {
  switch (m) {
    case AbMetric::opens: return "opens";
    case AbMetric::clicks: return "clicks";
    case AbMetric::replies: return "replies";
    case AbMetric::conversions: return "conversions";
  }
  return "clicks";
}
// The events.kind a metric counts.
inline const char* event_kind(AbMetric m) {
  switch (m) {
    case AbMetric::opens: return "opened";
    case AbMetric::clicks: return "clicked";
    case AbMetric::replies: return "replied";
    case AbMetric::conversions: return "converted";
  }
  return "clicked";
}

struct AbTest {
  double fraction = 0.2;          // share of the segment in the test group, in (0, 1)
  std::int64_t wait_seconds = 0;  // from the start of the campaign to the decision
  AbMetric metric = AbMetric::clicks;
  double confidence = 0.95;       // significant when p < 1 - confidence
};

// At most `max` campaign emails per contact per `period_seconds` (see send_policy.hpp for what counts).
struct FrequencyCap {
  int max = 0;
  std::int64_t period_seconds = 0;
  std::string text;  // as written, e.g. "3/7d", for skip reasons
};

enum class SendTime { as_scheduled, best };

struct Campaign {
  CampaignKind kind = CampaignKind::marketing;
  std::string name;  // unique id; defaults to the file's stem
  std::string file;
  util::Mailbox from;
  std::optional<util::Mailbox> reply_to;
  std::string subject;  // a Mustache template
  std::string template_name;
  SourcePlace template_place;  // where `template:` is, for template errors
  std::string segment = "all";  // rule name, `all`, or an inline expression
  SourcePlace segment_place;    // where the segment text starts, for error columns
  std::optional<util::UnixTime> schedule_at;  // nullopt = now
  std::optional<util::Rate> throttle;
  std::optional<std::string> topic;
  std::optional<std::string> relay;  // a configured relay's name; none = chosen by the From domain
  bool track = true;
  // A/B testing: empty, or two or more variants together with `ab_test`.
  std::vector<Variant> variants;
  std::optional<AbTest> ab_test;
  // Sunset policy: leave out contacts we have mailed (or known) for longer than this without a
  // human open, click or reply within it.
  std::optional<std::int64_t> exclude_unengaged_seconds;
  std::optional<FrequencyCap> frequency_cap;
  SendTime send_time = SendTime::as_scheduled;
  std::optional<double> cost;  // what the campaign cost, for the report's cost per response
  std::string fingerprint;  // hash of the file's bytes: tells an edit from a re-drop
};

}  // namespace campaignd::campaigns
