// build_mime: headers, then one or two quoted-printable parts.
#include "daemon/render/mime.hpp"

#include <array>
#include <chrono>

#include "daemon/render/quoted_printable.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::render {

namespace {

// Fields build_mime writes itself: an extra header may not add a second one (DKIM signs the
// first instance found, and receivers reject duplicate From/Subject).
bool is_reserved(std::string_view name) {
  static constexpr std::array<std::string_view, 10> kReserved = {
      "date", "from", "reply-to", "to", "subject", "message-id", "mime-version", "bcc", "cc", "sender"};
  const std::string lower = util::to_lower(name);
  if (lower.starts_with("content-")) return true;
  for (auto r : kReserved)
    if (lower == r) return true;
  return false;
}

std::string clean_message_id(std::string_view id) {
  std::string out;
  for (char c : id)
    if (c > 0x20 && c < 0x7f && c != '<' && c != '>') out += c;
  return out;
}

std::string part_headers(std::string_view type) {
  return "Content-Type: " + std::string(type) + "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
}

std::string base36(std::uint64_t n) {
  std::string out;
  do {
    out.insert(out.begin(), "0123456789abcdefghijklmnopqrstuvwxyz"[n % 36]);
    n /= 36;
  } while (n > 0);
  return out;
}

}  // namespace

std::string make_message_id(std::string_view domain) {
  std::string host;
  for (char c : util::to_lower(domain))
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-') host += c;
  if (host.empty()) host = "localhost";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return base36(static_cast<std::uint64_t>(ms)) + "." + util::to_hex(util::random_bytes(12)) + "@" + host;
}

std::string build_mime(const OutgoingMessage& m) {
  std::string out;
  out += "Date: " + util::format_rfc5322_date(m.date) + "\r\n";
  out += mailbox_header("From", m.from);
  if (m.reply_to) out += mailbox_header("Reply-To", *m.reply_to);
  out += mailbox_header("To", m.to);
  out += unstructured_header("Subject", m.subject);
  std::string id = clean_message_id(m.message_id);
  if (id.empty()) id = make_message_id(util::domain_of(m.from.address));
  out += "Message-ID: <" + id + ">\r\n";
  out += "MIME-Version: 1.0\r\n";
  for (const auto& [name, value] : m.extra_headers)
    if (is_valid_field_name(name) && !is_reserved(name)) out += structured_header(name, value);

  if (m.text && m.html) {
    const std::string text = qp_encode(*m.text);
    const std::string html = qp_encode(*m.html);
    // QP never writes "=_" ('=' only starts =XX or a soft break), so this boundary cannot occur
    // in either part; the loop is a guard should the encoding ever change.
    std::string boundary;
    do {
      boundary = "=_cd_" + util::to_hex(util::random_bytes(12));
    } while (text.find(boundary) != std::string::npos || html.find(boundary) != std::string::npos);
    out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
    out += "--" + boundary + "\r\n" + part_headers("text/plain") + "\r\n" + text;
    out += "\r\n--" + boundary + "\r\n" + part_headers("text/html") + "\r\n" + html;
    out += "\r\n--" + boundary + "--\r\n";
  } else if (m.html) {
    out += part_headers("text/html") + "\r\n" + qp_encode(*m.html);
  } else {
    out += part_headers("text/plain") + "\r\n" + qp_encode(m.text.value_or(""));
  }
  return out;
}

}  // namespace campaignd::render
