// An automation as the engine sees it: parsed once, at the edge, from an automation file
// (a campaigns_dir/*.yaml file with a `trigger:` key).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "daemon/util/email_address.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::automation {

enum class TriggerKind { subscribed, replied, clicked, opened, tag_added, purchased, joined_segment, date };

struct Trigger {
  TriggerKind kind = TriggerKind::subscribed;
  // clicked: the link (empty = any); tag_added: the tag; joined_segment: a rule name or an
  // expression; date: the attribute holding the date.
  std::string arg;
  std::int64_t offset_seconds = 0;  // date: fire this long after (negative: before) the anniversary
  SourcePlace place;                // where the trigger text starts
};

struct Step {
  std::int64_t after_seconds = 0;           // from the trigger or from the previous step
  std::optional<int> at_minute_of_day;      // `at: HH:MM`, in the contact's time zone when known
  std::string subject;                      // a Mustache template
  std::string template_name;
  SourcePlace place;                        // the step's mapping
  SourcePlace template_place;               // where `template:` is, for template errors
};

// What ends an enrollment before its last step.
inline const std::set<std::string>& known_exit_reasons() {
  static const std::set<std::string> reasons = {"purchased", "unsubscribed", "replied", "clicked",
                                                "opened",    "complained",   "bounced", "left_segment"};
  return reasons;
}

struct Automation {
  std::string name;  // unique id; defaults to the file's stem
  std::string file;
  Trigger trigger;
  std::optional<std::string> condition;  // a segment expression or rule name
  SourcePlace condition_place;
  util::Mailbox from;
  std::optional<util::Mailbox> reply_to;
  std::optional<std::string> topic;
  bool track = true;
  std::vector<Step> steps;
  std::set<std::string> exit_on;  // members of known_exit_reasons()
  // RFC 3834 / RFC 5230: at most one automatic reply per sender per period.
  std::int64_t reply_period_seconds = 7 * 24 * 3600;
  std::string fingerprint;  // hash of the file's bytes

  // The campaigns row that carries step `index` (0-based): "<name>#<index+1>".
  std::string step_campaign_name(std::size_t index) const { return name + "#" + std::to_string(index + 1); }
};

const char* to_string(TriggerKind kind);

}  // namespace campaignd::automation
