// The RFC 5322 / MIME message for one recipient, ready for a transport (or DKIM signing).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/render/header_encoding.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::render {

struct OutgoingMessage {
  util::Mailbox from;
  std::optional<util::Mailbox> reply_to;
  util::Mailbox to;
  std::string subject;              // UTF-8, one line
  std::optional<std::string> html;  // UTF-8
  std::optional<std::string> text;  // UTF-8
  std::string message_id;           // without <>; "" = one is made for the From domain
  util::UnixTime date = 0;
  // In order, after MIME-Version: e.g. List-Unsubscribe, List-Unsubscribe-Post, List-Id,
  // Auto-Submitted, X-Campaign. A pair whose name is not a valid field name, or names a field
  // build_mime writes itself (Date, From, Reply-To, To, Subject, Message-ID, MIME-Version,
  // Content-*), or Bcc, is left out.
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// The whole message: CRLF line ends only, header lines folded to 78 characters where possible
// and never over 998, non-ASCII only in RFC 2047 words and quoted-printable bodies. Header order:
// Date, From, Reply-To, To, Subject, Message-ID, MIME-Version, the extra headers, Content-Type.
// Text and HTML give multipart/alternative (text/plain first, RFC 2046 5.1.4); one gives a
// single part; neither gives an empty text/plain body. Bodies always end with a line break.
// No value, whatever it holds, can add a header field: CR, LF and other controls become spaces.
std::string build_mime(const OutgoingMessage& m);

// A fresh Message-ID (without the angle brackets): "<time base36>.<96 random bits hex>@domain".
// Unique across processes and hosts in practice; thread-safe.
std::string make_message_id(std::string_view domain);

}  // namespace campaignd::render
