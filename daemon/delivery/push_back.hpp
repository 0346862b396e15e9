// What a send's result says about the way it went, beyond this one message: whether the relay
// is unreachable, or the relay or the destination domain asked us to slow down.
//
//   relay_down       no reply at all, or a refusal before MAIL FROM (greeting, EHLO, AUTH):
//                    the relay is down or refuses us; another relay may take the message.
//   domain_throttle  421, 4.7.x, or a 4xx that speaks of rates/limits, in answer to RCPT TO:
//                    the destination (or the relay on its behalf) wants less of that domain.
//   relay_throttle   the same replies at MAIL FROM, DATA or after the data (SES's "454
//                    Throttling failure"): the relay wants less of everything.
//   message          anything else: this message's own retry or failure, as before.
// Plain 451 "try again later" stays a message retry: servers say it for greylisting and local
// trouble, and slowing a whole domain for it would punish everyone else.
#pragma once

#include "daemon/transport/transport.hpp"

namespace campaignd::delivery {

enum class PushBack { none, message, relay_down, domain_throttle, relay_throttle };

PushBack classify_push_back(const transport::SendResult& result);

// True for a reply that asks the sender to slow down (the rules above, without the stage).
bool is_throttling_reply(int code, std::string_view enhanced, std::string_view text);

}  // namespace campaignd::delivery
