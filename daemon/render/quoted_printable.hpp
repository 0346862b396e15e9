// Quoted-printable (RFC 2045 6.7) for message bodies: 7-bit goes through every relay, with or
// without 8BITMIME, so every body leaves here as 7-bit text in CRLF lines of at most 76 characters.
#pragma once

#include <string>
#include <string_view>

namespace campaignd::render {

// Line ends (CRLF, LF or a lone CR) become CRLF and the result always ends with one ("" stays
// ""). Encoded: '=', bytes outside printable ASCII, a space or tab ending a line, and a '.' or
// "From " starting an encoded line (so transports that skip dot-stuffing, and mbox "From "
// quoting, cannot change the body or break its DKIM hash). Longer lines get soft breaks "=".
std::string qp_encode(std::string_view body);

}  // namespace campaignd::render
