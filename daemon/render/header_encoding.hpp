// Header fields as RFC 5322 and RFC 2047 want them: one line each unless folded with CRLF + space,
// non-ASCII text as =?UTF-8?B?...?= encoded-words, nothing a value holds able to start a new field.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/email_address.hpp"

namespace campaignd::render {

constexpr size_t kFoldWidth = 78;        // RFC 5322 2.1.1: SHOULD keep lines to 78 characters
constexpr size_t kMaxEncodedWord = 75;   // RFC 2047 2: an encoded-word is at most 75 characters

// Replaces each invalid UTF-8 sequence (overlong, surrogate, truncated, > U+10FFFF) with U+FFFD.
std::string sanitize_utf8(std::string_view s);

// RFC 2047 "B" encoded-words for `utf8`, each at most 75 characters and none splitting a UTF-8
// character; the first is kept to `first_budget` characters (room left on the first line).
std::vector<std::string> encode_words(std::string_view utf8, size_t first_budget = kMaxEncodedWord);

// The words of encode_words joined by single spaces (decoders drop the space between adjacent
// encoded-words). "" for "". Always encodes, even pure ASCII: the caller decides when to.
std::string encode_header_word(std::string_view utf8);

// "Name: value\r\n" for an unstructured field (Subject): controls become spaces, then the value
// is folded at its spaces, or sent as encoded-words when it is not plain printable ASCII, holds
// "=?", or has a word too long to fold.
std::string unstructured_header(std::string_view name, std::string_view value);

// "Name: value\r\n" for a structured field (List-Unsubscribe, List-Id...): folded at spaces only,
// never encoded unless it holds non-ASCII or a run no fold can bring under 998 octets.
std::string structured_header(std::string_view name, std::string_view value);

// "Name: Display <addr>\r\n" (From, To, Reply-To): the display name as atoms, a quoted-string
// ("Acme, Inc") or encoded-words; the address is never encoded, and loses anything that is not
// printable ASCII or could end it (spaces, <, >).
std::string mailbox_header(std::string_view name, const util::Mailbox& mailbox);

// A header field name is 1*ftext (RFC 5322 3.6.8): printable ASCII except ':'.
bool is_valid_field_name(std::string_view name);

}  // namespace campaignd::render
