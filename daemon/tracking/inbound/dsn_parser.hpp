// RFC 3464 delivery status notifications: multipart/report; report-type=delivery-status with
// one message/delivery-status part (a per-message group, then one group per recipient), and the
// returned message (message/rfc822) or its headers (text/rfc822-headers). Bounces that are not
// RFC 3464 but carry X-Failed-Recipients (Exim, Gmail) are read as well, best effort.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/tracking/inbound/mail_parser.hpp"

namespace campaignd::tracking::inbound {

struct DsnRecipient {
  std::string final_recipient;     // the address, "rfc822;" stripped
  std::string original_recipient;  // may be empty
  std::string action;              // lower-case: failed delayed delivered relayed expanded
  std::string status;              // "5.1.1"
  std::string diagnostic_code;     // "smtp; 550 5.1.1 ... User unknown"
  std::string remote_mta;
};

struct DeliveryReport {
  std::string reporting_mta;
  std::vector<DsnRecipient> recipients;
  std::optional<std::string> original_message_id;  // without <>
  std::vector<std::string> original_recipients;    // To of the returned message (for matching)
  bool rfc3464 = true;                             // false: read from X-Failed-Recipients and text
};

// True when the message is a multipart/report of report-type delivery-status.
bool is_delivery_report(const ParsedMessage& message);

// The report, or nullopt when the message is not a DSN.
std::optional<DeliveryReport> parse_dsn(const ParsedMessage& message);

// The Message-ID of the message returned in a report: from a message/rfc822 (or message/global)
// part, a text/rfc822-headers part, or a "Message-ID:" line quoted in the text.
std::optional<std::string> returned_message_id(const MimePart& root);

}  // namespace campaignd::tracking::inbound
