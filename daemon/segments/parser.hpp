// Recursive-descent parser for segment expressions.
//
//   expression := or
//   or         := and ("or" and)*
//   and        := unary ("and" unary)*
//   unary      := "not" unary | primary
//   primary    := "(" expression ")" | subject [compare literal | ["not"] "in" list | "contains" literal]
//   subject    := name | name "(" [literal ("," literal)*] ")"
//   list       := "[" [literal ("," literal)*] "]"
//
// The parser knows only the shape; which names and functions exist is the compiler's business.
#pragma once

#include <expected>
#include <string_view>

#include "daemon/segments/ast.hpp"
#include "daemon/segments/segment_error.hpp"

namespace campaignd::segments {

// Parentheses and `not`s nest at most this deep, so hostile input cannot exhaust the stack.
inline constexpr int kMaxNesting = 64;

std::expected<ast::Node, SegmentError> parse_segment(std::string_view text);

}  // namespace campaignd::segments
