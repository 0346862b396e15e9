#include "daemon/tracking/inbound/arf_parser.hpp"

#include "daemon/tracking/inbound/dsn_parser.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking::inbound {

namespace {

const MimePart* find_feedback_part(const MimePart& root) {
  for (const auto& child : root.children)
    if (child.content_type.mime_type() == "message/feedback-report") return &child;
  return nullptr;
}

std::string field(const HeaderList& h, std::string_view name, std::size_t max = 500) {
  std::string v = to_utf8(util::strip_controls(util::trim(h.value(name))), "utf-8");
  if (v.size() > max) v = to_utf8(v.substr(0, max), "utf-8");
  return v;
}

}  // namespace

bool FeedbackReport::is_complaint() const {
  return feedback_type == "abuse" || feedback_type == "fraud" || feedback_type == "virus" ||
         feedback_type == "other" || feedback_type.empty();
}

bool is_feedback_report(const ParsedMessage& message) {
  const ContentType& ct = message.root.content_type;
  return ct.mime_type() == "multipart/report" && util::to_lower(ct.param("report-type")) == "feedback-report";
}

std::optional<FeedbackReport> parse_arf(const ParsedMessage& message) {
  if (!is_feedback_report(message)) return std::nullopt;
  const MimePart* part = find_feedback_part(message.root);
  if (!part) return std::nullopt;
  HeaderList h = parse_header_block(part->body);
  FeedbackReport report;
  report.feedback_type = util::to_lower(field(h, "Feedback-Type", 64));
  report.user_agent = field(h, "User-Agent");
  report.version = field(h, "Version", 16);
  for (const auto& value : h.get_all("Original-Rcpt-To"))
    for (const auto& addr : addresses_of(value))
      if (report.original_rcpt_to.size() < 100) report.original_rcpt_to.push_back(to_utf8(addr, "utf-8"));
  report.original_mail_from = address_of(field(h, "Original-Mail-From"));  // field() made it UTF-8
  report.source_ip = field(h, "Source-IP", 64);
  report.arrival_date = field(h, "Arrival-Date", 100);
  report.original_message_id = returned_message_id(message.root);
  for (const auto& child : message.root.children) {
    const HeaderList* original = nullptr;
    if (!child.children.empty() && child.content_type.type == "message") original = &child.children.front().headers;
    else if (child.embedded_headers) original = &*child.embedded_headers;
    if (original) {
      for (const auto& a : addresses_of(original->value("To"))) report.original_to.push_back(to_utf8(a, "utf-8"));
      break;
    }
  }
  return report;
}

}  // namespace campaignd::tracking::inbound
