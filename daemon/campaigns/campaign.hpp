// A campaign as the engine sees it: parsed once, at the edge, from a campaign file.
#pragma once

#include <optional>
#include <string>

#include "daemon/util/clock.hpp"
#include "daemon/util/email_address.hpp"
#include "daemon/util/rate.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::campaigns {

// Marketing campaigns come from files; the confirmation mail of double opt-in is a built-in
// campaign that goes to pending contacts only and carries no List-Unsubscribe.
enum class CampaignKind { marketing, confirmation };

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
  bool track = true;
  std::string fingerprint;  // hash of the file's bytes: tells an edit from a re-drop
};

}  // namespace campaignd::campaigns
