// Fuzz target: mail that arrives from outside (bounces, complaints, replies), through every
// reader the inbound service applies to it: the RFC 5322/MIME parser, the DSN and ARF readers,
// the auto-reply detector and the reply snippet. Hostile input must never crash them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "daemon/tracking/inbound/arf_parser.hpp"
#include "daemon/tracking/inbound/auto_reply.hpp"
#include "daemon/tracking/inbound/bounce_classifier.hpp"
#include "daemon/tracking/inbound/dsn_parser.hpp"
#include "daemon/tracking/inbound/mail_parser.hpp"
#include "daemon/tracking/inbound/reply_snippet.hpp"
#include "daemon/util/csv.hpp"

using namespace campaignd;
using namespace campaignd::tracking::inbound;

namespace {

// Outputs are UTF-8 by contract (they go into JSON event data, which rejects anything else).
void require_utf8(std::string_view s) {
  if (!util::is_valid_utf8(s)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  // Small limits so that nesting, header count and part count limits are reached by small inputs.
  ParseLimits limits;
  limits.max_message_bytes = 1 << 20;
  limits.max_header_value_bytes = 512;
  limits.max_headers = 64;
  limits.max_depth = 6;
  limits.max_parts = 48;

  auto parsed = parse_message(raw, limits);
  if (!parsed) {
    if (parsed.error().empty()) std::abort();
    return 0;
  }
  const ParsedMessage& msg = *parsed;
  const HeaderList& h = msg.root.headers;

  if (auto arf = parse_arf(msg)) {
    (void)arf->is_complaint();
  }
  if (auto dsn = parse_dsn(msg)) {
    for (const auto& r : dsn->recipients) (void)classify_bounce(r.status, r.diagnostic_code, r.action);
  }
  (void)returned_message_id(msg.root);

  (void)detect_auto_reply(h, {});
  (void)detect_auto_reply(h, "<>");
  (void)detect_auto_reply(h, address_of(h.value("Return-Path")));
  require_utf8(decode_rfc2047(h.value("Subject")));
  (void)message_ids(h.value("In-Reply-To"));
  (void)message_ids(h.value("References"));
  (void)addresses_of(h.value("To"));
  (void)is_robot_sender(address_of(h.value("From")));

  const std::string body = text_body(msg.root);
  require_utf8(body);
  const std::string snippet = reply_snippet(body, 200);
  require_utf8(snippet);
  // At most 200 code points (UTF-8 continuation bytes do not start one).
  std::size_t code_points = 0;
  for (unsigned char c : snippet) code_points += (c & 0xC0) != 0x80;
  if (code_points > 200) std::abort();
  return 0;
}
