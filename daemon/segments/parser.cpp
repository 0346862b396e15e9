// Recursive-descent parser: tokens in, ast::Node out, or the first error with its column.
#include "daemon/segments/parser.hpp"

#include <utility>
#include <vector>

#include "daemon/segments/lexer.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::segments {

namespace {

template <typename T>
using Parsed = std::expected<T, SegmentError>;

std::unexpected<SegmentError> error_at(const Token& token, std::string message) {
  return std::unexpected(SegmentError{token.col, std::move(message)});
}

std::unexpected<SegmentError> expected_but(const Token& token, std::string_view wanted) {
  return error_at(token, "expected " + std::string(wanted) + " but found " + describe(token));
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Parsed<ast::Node> expression_only() {
    auto node = disjunction();
    if (!node) return node;
    if (peek().kind != TokenKind::end) return expected_but(peek(), "'and', 'or' or end of expression");
    return node;
  }

 private:
  const Token& peek(size_t ahead = 0) const {
    size_t i = pos_ + ahead;
    return i < tokens_.size() ? tokens_[i] : tokens_.back();
  }
  const Token& take() {
    const Token& token = peek();
    if (pos_ + 1 < tokens_.size()) ++pos_;
    return token;
  }

  Parsed<ast::Node> disjunction() { return junction(ast::Junction::Kind::any); }

  // One level of `or` (any) or `and` (all); `and` binds tighter, so its terms are unaries.
  Parsed<ast::Node> junction(ast::Junction::Kind kind) {
    TokenKind joiner = kind == ast::Junction::Kind::any ? TokenKind::kw_or : TokenKind::kw_and;
    auto term = [&]() { return kind == ast::Junction::Kind::any ? junction(ast::Junction::Kind::all) : unary(); };
    auto first = term();
    if (!first) return first;
    if (peek().kind != joiner) return first;
    ast::Junction j{kind, {}};
    j.terms.push_back(std::move(*first));
    while (peek().kind == joiner) {
      take();
      auto next = term();
      if (!next) return next;
      j.terms.push_back(std::move(*next));
    }
    return ast::Node{std::move(j)};
  }

  Parsed<ast::Node> unary() {
    if (peek().kind != TokenKind::kw_not) return primary();
    const Token& not_token = take();
    if (++depth_ > kMaxNesting) return too_deep(not_token);
    auto operand = unary();
    --depth_;
    if (!operand) return operand;
    return ast::Node{ast::Not{std::make_unique<ast::Node>(std::move(*operand)), not_token.col}};
  }

  std::unexpected<SegmentError> too_deep(const Token& at) const {
    return error_at(at, "expression is nested too deeply (more than " + std::to_string(kMaxNesting) + " levels)");
  }

  Parsed<ast::Node> primary() {
    const Token& token = peek();
    if (token.kind == TokenKind::lparen) {
      take();
      if (++depth_ > kMaxNesting) return too_deep(token);
      auto inner = disjunction();
      if (!inner) return inner;
      if (peek().kind != TokenKind::rparen) return expected_but(peek(), "')'");
      take();
      --depth_;
      return inner;
    }
    if (token.kind != TokenKind::identifier) return expected_but(token, "a condition");
    auto subject = this->subject();
    if (!subject) return std::unexpected(subject.error());
    return condition_on(std::move(*subject));
  }

  Parsed<ast::Node> condition_on(ast::Subject subject) {
    const Token& op = peek();
    switch (op.kind) {
      case TokenKind::compare: {
        take();
        auto value = literal("a value after '" + op.text + "'");
        if (!value) return std::unexpected(value.error());
        return ast::Node{ast::Compare{std::move(subject), compare_op(op.text), op.col, std::move(*value)}};
      }
      case TokenKind::kw_in: {
        take();
        auto values = list();
        if (!values) return std::unexpected(values.error());
        return ast::Node{ast::InList{std::move(subject), false, op.col, std::move(*values)}};
      }
      case TokenKind::kw_not: {
        // `not` after a subject can only start `not in`.
        take();
        if (peek().kind != TokenKind::kw_in) return expected_but(peek(), "'in' after 'not'");
        take();
        auto values = list();
        if (!values) return std::unexpected(values.error());
        return ast::Node{ast::InList{std::move(subject), true, op.col, std::move(*values)}};
      }
      case TokenKind::kw_contains: {
        take();
        auto needle = literal("a value after 'contains'");
        if (!needle) return std::unexpected(needle.error());
        return ast::Node{ast::Contains{std::move(subject), op.col, std::move(*needle)}};
      }
      default: return ast::Node{ast::Test{std::move(subject)}};
    }
  }

  static ast::CompareOp compare_op(std::string_view text) {
    if (text == "!=") return ast::CompareOp::ne;
    if (text == "<") return ast::CompareOp::lt;
    if (text == "<=") return ast::CompareOp::le;
    if (text == ">") return ast::CompareOp::gt;
    if (text == ">=") return ast::CompareOp::ge;
    return ast::CompareOp::eq;  // "=" and "=="
  }

  Parsed<ast::Subject> subject() {
    const Token& name_token = take();
    ast::Name name{name_token.text, name_token.col};
    if (peek().kind != TokenKind::lparen) return ast::Subject{std::move(name)};
    take();
    auto args = literals_until(TokenKind::rparen, "an argument", "',' or ')'");
    if (!args) return std::unexpected(args.error());
    return ast::Subject{ast::Call{std::move(name), std::move(*args)}};
  }

  Parsed<std::vector<ast::Literal>> list() {
    if (peek().kind != TokenKind::lbracket) return expected_but(peek(), "'[' after 'in'");
    take();
    return literals_until(TokenKind::rbracket, "a value in the list", "',' or ']'");
  }

  // Comma-separated literals up to and including `close`; empty is allowed.
  Parsed<std::vector<ast::Literal>> literals_until(TokenKind close, std::string_view what, std::string_view separator) {
    std::vector<ast::Literal> out;
    if (peek().kind == close) {
      take();
      return out;
    }
    while (true) {
      auto value = literal(what);
      if (!value) return std::unexpected(value.error());
      out.push_back(std::move(*value));
      if (peek().kind == close) {
        take();
        return out;
      }
      if (peek().kind != TokenKind::comma) return expected_but(peek(), separator);
      take();
    }
  }

  Parsed<ast::Literal> literal(std::string_view what) {
    const Token& token = peek();
    switch (token.kind) {
      case TokenKind::string: take(); return ast::Literal{token.text, token.col};
      case TokenKind::integer: take(); return ast::Literal{token.integer, token.col};
      case TokenKind::real: take(); return ast::Literal{token.real, token.col};
      case TokenKind::kw_true: take(); return ast::Literal{true, token.col};
      case TokenKind::kw_false: take(); return ast::Literal{false, token.col};
      default: return expected_but(token, what);
    }
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

std::expected<ast::Node, SegmentError> parse_segment(std::string_view text) {
  if (util::trim(text).empty()) return std::unexpected(SegmentError{1, "empty expression"});
  auto tokens = tokenize(text);
  if (!tokens) return std::unexpected(tokens.error());
  return Parser(std::move(*tokens)).expression_only();
}

}  // namespace campaignd::segments
