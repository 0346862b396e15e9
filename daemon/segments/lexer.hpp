// Splits a segment expression into tokens, each with the column where it starts.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/segments/segment_error.hpp"

namespace campaignd::segments {

enum class TokenKind {
  identifier,
  string,
  integer,
  real,
  compare,  // = == != < <= > >=; `text` holds the operator as written
  lparen,
  rparen,
  lbracket,
  rbracket,
  comma,
  kw_and,
  kw_or,
  kw_not,
  kw_in,
  kw_contains,
  kw_true,
  kw_false,
  end,
};

struct Token {
  TokenKind kind = TokenKind::end;
  std::string text;  // as written, except strings: their decoded value
  int col = 1;       // 1-based byte offset of the token's first character
  std::int64_t integer = 0;
  double real = 0;
};

// Keywords (and, or, not, in, contains, true, false) are case-insensitive. Strings take double or
// single quotes and the escapes \\ \" \' \n \t. The last token is always `end`, placed one past
// the text.
std::expected<std::vector<Token>, SegmentError> tokenize(std::string_view text);

// How a token reads in an error message: 'and', "CA", end of expression.
std::string describe(const Token& token);

}  // namespace campaignd::segments
