// A defensive RFC 5322 + MIME reader for mail that arrives from outside (bounces, complaints,
// replies). It unfolds headers, decodes RFC 2047 encoded-words, walks multiparts, undoes
// quoted-printable and base64, and turns text into UTF-8. Hostile input never crashes it: past
// the limits it stops descending and says so in `warnings`; only input with no usable header
// at all is an error.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace campaignd::tracking::inbound {

struct ParseLimits {
  std::size_t max_message_bytes = 25 * 1024 * 1024;
  std::size_t max_header_value_bytes = 64 * 1024;  // longer values are cut
  std::size_t max_headers = 1000;                  // per entity; the rest are dropped
  int max_depth = 16;                              // nested multiparts / embedded messages
  std::size_t max_parts = 512;                     // entities in the whole tree
};

struct HeaderField {
  std::string name;   // as written
  std::string value;  // unfolded, trimmed, still encoded (see decode_rfc2047)
};

// Header fields in order; lookups ignore case.
class HeaderList {
 public:
  void add(std::string name, std::string value) { fields_.push_back({std::move(name), std::move(value)}); }
  // The first field of that name.
  std::optional<std::string> get(std::string_view name) const;
  std::string value(std::string_view name) const { return get(name).value_or(std::string()); }
  std::vector<std::string> get_all(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  // The first field whose name starts with `prefix` (e.g. "List-").
  bool has_prefix(std::string_view prefix) const;
  const std::vector<HeaderField>& fields() const { return fields_; }
  bool empty() const { return fields_.empty(); }
  std::size_t size() const { return fields_.size(); }

 private:
  std::vector<HeaderField> fields_;
};

struct ContentType {
  std::string type = "text";      // lower-case
  std::string subtype = "plain";  // lower-case
  std::map<std::string, std::string> params;  // names lower-case, values unquoted

  std::string mime_type() const { return type + "/" + subtype; }
  std::string param(const std::string& lower_case_name) const;
};

// One MIME entity. For multipart/* the children are the parts; for message/rfc822 (and
// message/global) the single child is the embedded message; text/rfc822-headers keeps its
// headers in `embedded_headers`.
struct MimePart {
  HeaderList headers;
  ContentType content_type;
  std::string transfer_encoding;  // lower-case, "7bit" when absent
  std::string body;               // transfer encoding undone; text/* bodies are UTF-8
  std::vector<MimePart> children;
  std::optional<HeaderList> embedded_headers;

  bool is_multipart() const { return content_type.type == "multipart"; }
};

struct ParsedMessage {
  MimePart root;
  std::vector<std::string> warnings;  // what was repaired or skipped
};

// Fails on empty input, input over max_message_bytes, and input with no header field at all.
Result<ParsedMessage> parse_message(std::string_view raw, const ParseLimits& limits = {});

// Header fields up to the first blank line (or the end); `rest` gets what follows that line.
// Used for header blocks inside reports (message/delivery-status groups, text/rfc822-headers).
HeaderList parse_header_block(std::string_view text, std::string_view* rest = nullptr,
                              const ParseLimits& limits = {}, std::vector<std::string>* warnings = nullptr);

ContentType parse_content_type(std::string_view value);

// RFC 2047: encoded-words (B and Q) in a header value become UTF-8; whitespace between two
// adjacent encoded-words is dropped; malformed words are left as written.
std::string decode_rfc2047(std::string_view value);

// Lenient decoders: invalid characters are skipped, a truncated tail is dropped. `ok` (when
// given) is set false when anything had to be skipped.
std::string decode_base64(std::string_view text, bool* ok = nullptr);
std::string decode_quoted_printable(std::string_view text, bool underscore_is_space = false);

// Bytes in `charset` to UTF-8: utf-8, us-ascii, iso-8859-1 (latin1) and windows-1252 are
// converted; invalid UTF-8 and unknown charsets keep valid UTF-8 and replace the rest by U+FFFD.
std::string to_utf8(std::string_view bytes, std::string_view charset);

// The <...> identifiers of a Message-ID, In-Reply-To or References value, without brackets,
// in order. A bare id with no brackets counts when it is the whole value.
std::vector<std::string> message_ids(std::string_view value);

// The address of a mailbox header value ("Name <a@b>", "a@b", "<>" -> ""), lower-cased domain untouched.
std::string address_of(std::string_view value);
// Every address in an address-list header (To, Cc), in order.
std::vector<std::string> addresses_of(std::string_view value);

// The first text/plain part (outside attachments and embedded messages), or a text/html one as
// plain text; empty when there is none.
std::string text_body(const MimePart& root);
// Plain text of an HTML fragment: tags dropped, block ends as line breaks, common entities decoded.
std::string html_to_text(std::string_view html);

}  // namespace campaignd::tracking::inbound
