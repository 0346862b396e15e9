#include "daemon/tracking/inbound/dsn_parser.hpp"

#include "daemon/tracking/inbound/bounce_classifier.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking::inbound {

namespace {

const MimePart* find_part(const MimePart& part, std::string_view mime_type, int depth = 0) {
  if (part.content_type.mime_type() == mime_type) return &part;
  if (depth > 32) return nullptr;
  for (const auto& child : part.children)
    if (const MimePart* found = find_part(child, mime_type, depth + 1)) return found;
  return nullptr;
}

// "rfc822; user@example.com" -> "user@example.com"
std::string strip_address_type(std::string_view value) {
  auto semi = value.find(';');
  std::string_view addr = semi == std::string_view::npos ? value : value.substr(semi + 1);
  return address_of(util::trim(addr));
}

// Trimmed, one space for each run of whitespace (folding leaves runs), valid UTF-8, bounded.
std::string clean(std::string_view s, std::size_t max = 1000) {
  std::string flat;
  for (char c : util::strip_controls(util::trim(s)))
    if (c != ' ' || flat.empty() || flat.back() != ' ') flat.push_back(c);
  std::string out = to_utf8(flat, "utf-8");
  if (out.size() > max) {
    out.resize(max);
    out = to_utf8(out, "utf-8");  // no cut sequence
  }
  return out;
}

// The headers of the returned message, wherever the report put them.
const HeaderList* returned_headers(const MimePart& root) {
  for (std::string_view type : {"message/rfc822", "message/global"})
    if (const MimePart* p = find_part(root, type); p && !p->children.empty()) return &p->children.front().headers;
  for (std::string_view type : {"text/rfc822-headers", "message/global-headers"})
    if (const MimePart* p = find_part(root, type); p && p->embedded_headers) return &*p->embedded_headers;
  return nullptr;
}

// "Message-ID: <x@y>" quoted in a plain-text bounce.
std::optional<std::string> message_id_in_text(std::string_view text) {
  std::string lower = util::to_lower(text);
  std::size_t at = lower.find("message-id:");
  if (at == std::string::npos) return std::nullopt;
  std::size_t eol = text.find('\n', at);
  std::string_view line = text.substr(at + 11, eol == std::string_view::npos ? std::string_view::npos : eol - at - 11);
  auto ids = message_ids(line);
  if (ids.empty()) return std::nullopt;
  return ids.front();
}

std::optional<DeliveryReport> parse_plain_bounce(const ParsedMessage& message) {
  const HeaderList& h = message.root.headers;
  auto failed = h.get("X-Failed-Recipients");
  if (!failed) return std::nullopt;
  DeliveryReport report;
  report.rfc3464 = false;
  std::string body = text_body(message.root);
  auto code = find_enhanced_code(body);
  // The first line that carries the code is the likeliest SMTP reply.
  std::string diagnostic;
  if (code) {
    std::size_t at = body.find(code->text());
    std::size_t start = body.rfind('\n', at);
    std::size_t end = body.find('\n', at);
    start = start == std::string::npos ? 0 : start + 1;
    diagnostic = clean(std::string_view(body).substr(start, end == std::string::npos ? std::string::npos : end - start));
  } else {
    diagnostic = clean(body, 300);
  }
  for (const auto& addr : addresses_of(*failed)) {
    DsnRecipient r;
    r.final_recipient = clean(addr, 320);
    r.action = "failed";
    r.status = code ? code->text() : "";
    r.diagnostic_code = diagnostic;
    report.recipients.push_back(std::move(r));
  }
  if (report.recipients.empty()) return std::nullopt;
  report.original_message_id = returned_message_id(message.root);
  return report;
}

}  // namespace

bool is_delivery_report(const ParsedMessage& message) {
  const ContentType& ct = message.root.content_type;
  return ct.mime_type() == "multipart/report" && util::to_lower(ct.param("report-type")) == "delivery-status";
}

std::optional<std::string> returned_message_id(const MimePart& root) {
  if (const HeaderList* h = returned_headers(root)) {
    auto ids = message_ids(h->value("Message-ID"));
    if (!ids.empty()) return ids.front();
  }
  // Some servers quote the returned headers as text in the human-readable part.
  for (const auto& child : root.children) {
    if (child.content_type.type != "text") continue;
    if (auto id = message_id_in_text(child.body)) return id;
  }
  if (root.children.empty() && root.content_type.type == "text") return message_id_in_text(root.body);
  return std::nullopt;
}

std::optional<DeliveryReport> parse_dsn(const ParsedMessage& message) {
  if (!is_delivery_report(message)) return parse_plain_bounce(message);
  const MimePart* status = find_part(message.root, "message/delivery-status");
  if (!status) status = find_part(message.root, "message/global-delivery-status");
  if (!status) return parse_plain_bounce(message);

  DeliveryReport report;
  std::string_view rest = status->body;
  // Groups are separated by blank lines; some servers put extra blank lines between them.
  HeaderList per_message = parse_header_block(rest, &rest);
  report.reporting_mta = clean(strip_address_type(per_message.value("Reporting-MTA")), 300);
  if (per_message.has("Final-Recipient") || per_message.has("Original-Recipient")) {
    // No per-message group: the first group is already a recipient.
    rest = status->body;
  }
  for (int guard = 0; guard < 1000 && !util::trim(rest).empty(); ++guard) {
    while (!rest.empty() && (rest.front() == '\r' || rest.front() == '\n')) rest.remove_prefix(1);
    HeaderList group = parse_header_block(rest, &rest);
    if (group.empty()) break;
    if (!group.has("Final-Recipient") && !group.has("Original-Recipient")) continue;
    DsnRecipient r;
    r.final_recipient = clean(strip_address_type(group.value("Final-Recipient")), 320);
    r.original_recipient = clean(strip_address_type(group.value("Original-Recipient")), 320);
    if (r.final_recipient.empty()) r.final_recipient = r.original_recipient;
    r.action = util::to_lower(util::trim(group.value("Action")));
    std::string status_field(util::trim(group.value("Status")));
    auto code = find_enhanced_code(status_field);
    r.status = code ? code->text() : clean(status_field, 20);
    r.diagnostic_code = clean(group.value("Diagnostic-Code"));
    r.remote_mta = clean(strip_address_type(group.value("Remote-MTA")), 300);
    report.recipients.push_back(std::move(r));
  }
  report.original_message_id = returned_message_id(message.root);
  if (const HeaderList* h = returned_headers(message.root)) report.original_recipients = addresses_of(h->value("To"));
  return report;
}

}  // namespace campaignd::tracking::inbound
