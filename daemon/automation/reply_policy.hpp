// RFC 3834 for reply-triggered automations (autoresponders): whom never to answer, and the
// threading an automatic reply carries. Pure functions over a `replied` event's data.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace campaignd::automation {

struct ReplyDecision {
  bool answer = false;
  std::string reason;  // why not, when !answer
  std::string sender;  // the normalised address answered (or refused)
};

// `data` is the event's data: {"from", "message_id", "references", "subject", and flags such as
// "auto_submitted", "precedence", "list", "list_id", "auto_reason", "return_path"}. The sender is
// data.from when it holds an address, else `contact_email`. Refused: any automatic or list flag
// (Auto-Submitted other than "no", Precedence bulk/list/junk, List-Id, X-Auto-Response-Suppress),
// a null sender (return path "<>" or no address at all), MAILER-DAEMON, postmaster, owner-*,
// *-request, no-reply style addresses, and `our_addresses` (normalised).
ReplyDecision decide_auto_reply(const nlohmann::json& data, std::string_view contact_email,
                                const std::set<std::string>& our_addresses);

// What an autoresponse's send carries in sends.context, header-ready:
//   {"auto_submitted": "auto-replied",
//    "in_reply_to": "<id@host>",                      (when the reply had a Message-ID)
//    "references": "<a@host> <b@host> <id@host>",     (the reply's References plus its Message-ID)
//    "subject": "Re: original subject",               ("Re: " added unless already there)
//    "original_subject": "original subject"}
nlohmann::json auto_reply_context(const nlohmann::json& data);

}  // namespace campaignd::automation
