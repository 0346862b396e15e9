// DKIM's view of a message (RFC 6376 section 3.4): header fields and body split at the first
// empty line, and the "relaxed" canonical forms that signer and verifier both hash.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/util/result.hpp"

namespace campaignd::render {

// One header field as written in the message. Views point into the message passed to
// dkim_split_message, which must outlive them.
struct DkimHeaderField {
  std::string_view name;   // before the colon, trailing WSP removed
  std::string_view value;  // after the colon, folds included, final CRLF excluded
  std::size_t line = 0;    // 1-based line where the field starts
};

struct DkimSplitMessage {
  std::vector<DkimHeaderField> headers;  // in message order
  std::string_view body;                 // after the empty line; empty when there is none
};

// Refuses bare CR or LF anywhere (a transport would rewrite them and break the signature), a
// header section starting with a continuation line, and a line that is not "name: value".
// Errors name the line.
Result<DkimSplitMessage> dkim_split_message(std::string_view message);

// "name:value" per RFC 6376 3.4.2: name lower-cased, value unfolded, WSP runs reduced to one
// space, WSP around the colon and at the ends removed. No CRLF is appended.
std::string dkim_relaxed_header(std::string_view name, std::string_view value);

// RFC 6376 3.4.4: WSP runs reduced to one space, WSP at line ends removed, empty lines at the
// end removed, a final CRLF added to a non-empty body that lacks one; an empty body stays empty.
std::string dkim_relaxed_body(std::string_view body);

}  // namespace campaignd::render
