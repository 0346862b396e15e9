// RFC 5965 Abuse Reporting Format: multipart/report; report-type=feedback-report with a
// human-readable part, a message/feedback-report part (Feedback-Type, Original-Rcpt-To, ...)
// and the complained-about message or its headers. Yahoo's and most ISPs' feedback loops use it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/tracking/inbound/mail_parser.hpp"

namespace campaignd::tracking::inbound {

struct FeedbackReport {
  std::string feedback_type;  // lower-case: abuse fraud virus other not-spam auth-failure ...
  std::string user_agent;
  std::string version;
  std::vector<std::string> original_rcpt_to;   // the complaining addresses (may be redacted)
  std::string original_mail_from;
  std::string source_ip;
  std::string arrival_date;
  std::optional<std::string> original_message_id;  // of the reported message, without <>
  std::vector<std::string> original_to;            // To of the reported message

  // abuse, fraud, virus and other are complaints; not-spam, auth-failure and the like are not.
  bool is_complaint() const;
};

bool is_feedback_report(const ParsedMessage& message);

// The report, or nullopt when the message is not an ARF report (or has no feedback part).
std::optional<FeedbackReport> parse_arf(const ParsedMessage& message);

}  // namespace campaignd::tracking::inbound
