// Whether an incoming message was written by a machine (RFC 3834 and the de-facto markers):
// such messages are not replies, must never trigger an autoresponder, and are recorded apart.
#pragma once

#include <string>
#include <string_view>

#include "daemon/tracking/inbound/mail_parser.hpp"

namespace campaignd::tracking::inbound {

struct AutoReplyVerdict {
  bool automatic = false;
  std::string reason;  // the marker that decided ("Auto-Submitted: auto-replied", "subject: out of office")
};

// `envelope_sender` is the SMTP MAIL FROM when the relay tells us (Return-Path otherwise);
// an empty string_view means unknown, "<>" the null sender.
AutoReplyVerdict detect_auto_reply(const HeaderList& headers, std::string_view envelope_sender = {});

// Sender addresses RFC 3834 says never to answer: MAILER-DAEMON, postmaster-style daemons,
// owner-*, *-request, no-reply addresses.
bool is_robot_sender(std::string_view address);

// Subjects that out-of-office and vacation responders use, in several languages
// (RFC 2047 already decoded).
bool is_auto_reply_subject(std::string_view subject);

}  // namespace campaignd::tracking::inbound
