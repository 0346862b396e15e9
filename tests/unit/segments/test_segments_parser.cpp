// The segment language's syntax: tokens, precedence, every operator, and errors with columns.
#include <doctest/doctest.h>

#include <string>

#include "daemon/segments/lexer.hpp"
#include "daemon/segments/parser.hpp"

using namespace campaignd::segments;

namespace {

std::string tree(std::string_view text) {
  auto node = parse_segment(text);
  if (!node) return "error at " + std::to_string(node.error().col) + ": " + node.error().message;
  return ast::to_string(*node);
}

}  // namespace

TEST_CASE("segments: tokens carry kinds, decoded values and columns") {
  auto tokens = tokenize("Country=='C\\'A' AND orders >= -2.5 Not In [\"a\\\"b\\\\c\"]");
  REQUIRE(tokens);
  REQUIRE(tokens->size() == 13);
  CHECK((*tokens)[0].kind == TokenKind::identifier);
  CHECK((*tokens)[0].text == "Country");
  CHECK((*tokens)[1].kind == TokenKind::compare);
  CHECK((*tokens)[1].text == "==");
  CHECK((*tokens)[1].col == 8);
  CHECK((*tokens)[2].kind == TokenKind::string);
  CHECK((*tokens)[2].text == "C'A");
  CHECK((*tokens)[2].col == 10);
  CHECK((*tokens)[3].kind == TokenKind::kw_and);
  CHECK((*tokens)[6].kind == TokenKind::real);
  CHECK((*tokens)[6].real == doctest::Approx(-2.5));
  CHECK((*tokens)[7].kind == TokenKind::kw_not);
  CHECK((*tokens)[8].kind == TokenKind::kw_in);
  CHECK((*tokens)[10].text == "a\"b\\c");
  CHECK((*tokens)[12].kind == TokenKind::end);
  CHECK((*tokens)[12].col == 54);
}

TEST_CASE("segments: identifiers may hold dots and dashes; numbers may be negative") {
  CHECK(tree("address.city-code = \"x\"") == "(= address.city-code \"x\")");
  CHECK(tree("balance>-5") == "(> balance -5)");
  CHECK(tree("ratio <= 0.75") == "(<= ratio 0.75)");
  CHECK(tree("x = 'tab\\there'") == "(= x \"tab\there\")");
}

TEST_CASE("segments: precedence is not > and > or") {
  CHECK(tree("a or b and c") == "(or a (and b c))");
  CHECK(tree("a and b or c") == "(or (and a b) c)");
  CHECK(tree("not a and b") == "(and (not a) b)");
  CHECK(tree("not a = 1 or b") == "(or (not (= a 1)) b)");
  CHECK(tree("not not a") == "(not (not a))");
  CHECK(tree("(a or b) and c") == "(and (or a b) c)");
  CHECK(tree("a and b and c and d") == "(and a b c d)");
  CHECK(tree("a AND b Or NOT c") == "(or (and a b) (not c))");
  CHECK(tree("((a))") == "a");
  CHECK(tree("country = \"CA\" and orders >= 2 and not unsubscribed") ==
        "(and (= country \"CA\") (>= orders 2) (not unsubscribed))");
}

TEST_CASE("segments: every comparison operator") {
  CHECK(tree("x = 1") == "(= x 1)");
  CHECK(tree("x == 1") == "(= x 1)");
  CHECK(tree("x != 1") == "(!= x 1)");
  CHECK(tree("x < 1") == "(< x 1)");
  CHECK(tree("x <= 1") == "(<= x 1)");
  CHECK(tree("x > 1") == "(> x 1)");
  CHECK(tree("x >= 1") == "(>= x 1)");
  CHECK(tree("vip = TRUE") == "(= vip true)");
  CHECK(tree("vip != false") == "(!= vip false)");
}

TEST_CASE("segments: in, not in, contains and calls") {
  CHECK(tree("x in [\"a\", 'b', 3, -2.5]") == "(in x [\"a\" \"b\" 3 -2.5])");
  CHECK(tree("x NOT IN [1]") == "(not-in x [1])");
  CHECK(tree("x in []") == "(in x [])");
  CHECK(tree("email Contains \"@example.com\"") == "(contains email \"@example.com\")");
  CHECK(tree("has_tag(\"vip\")") == "has_tag(\"vip\")");
  CHECK(tree("f()") == "f()");
  CHECK(tree("f(1, \"a\") >= 2") == "(>= f(1, \"a\") 2)");
  CHECK(tree("not opened_within(\"30d\") and x in [1,2]") == "(and (not opened_within(\"30d\")) (in x [1 2]))");
}

TEST_CASE("segments: syntax errors name the column of the offending token") {
  struct Case {
    std::string text;
    int col;
    std::string message;
  };
  const Case cases[] = {
      {"", 1, "empty expression"},
      {"   ", 1, "empty expression"},
      {"(a = 1", 7, "expected ')' but found end of expression"},
      {"(a = 1 b)", 8, "expected ')' but found 'b'"},
      {"a = 1)", 6, "expected 'and', 'or' or end of expression but found ')'"},
      {"a = 1 b", 7, "expected 'and', 'or' or end of expression but found 'b'"},
      {"a = \"abc", 5, "unterminated string"},
      {"a = 'abc\\'", 5, "unterminated string"},
      {"x = \"a\\qb\"", 7, "unknown escape '\\q' in string"},
      {"has_tag(\"a\" and b)", 13, "expected ',' or ')' but found 'and'"},
      {"a in \"x\"", 6, "expected '[' after 'in' but found \"x\""},
      {"a in [1, 2", 11, "expected ',' or ']' but found end of expression"},
      {"a in [1,]", 9, "expected a value in the list but found ']'"},
      {"a = ", 5, "expected a value after '=' but found end of expression"},
      {"a >= b", 6, "expected a value after '>=' but found 'b'"},
      {"and a", 1, "expected a condition but found 'and'"},
      {"not", 4, "expected a condition but found end of expression"},
      {"\"CA\" = country", 1, "expected a condition but found \"CA\""},
      {"a = 1 & b = 2", 7, "unexpected character '&'"},
      {"a = 1 ! b", 7, "unexpected character '!' (write 'not' or '!=')"},
      {"name = \xC3\xA9", 8, "unexpected character '\xC3\xA9'"},
      {"a not b", 7, "expected 'in' after 'not' but found 'b'"},
      {"opened_within(30d)", 15, "malformed number '30d' (a duration goes in quotes, e.g. \"30d\")"},
      {"a = 1.2.3", 5, "malformed number '1.2.3'"},
      {"a = 99999999999999999999", 5, "number 99999999999999999999 is out of range"},
      {"f(a)", 3, "expected an argument but found 'a'"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto node = parse_segment(c.text);
    REQUIRE_FALSE(node);
    CHECK(node.error().col == c.col);
    CHECK(node.error().message == c.message);
  }
}

TEST_CASE("segments: nesting is bounded, a long flat chain is not") {
  std::string deep = std::string(kMaxNesting + 1, '(') + "a" + std::string(kMaxNesting + 1, ')');
  auto node = parse_segment(deep);
  REQUIRE_FALSE(node);
  CHECK(node.error().col == kMaxNesting + 1);
  CHECK(node.error().message.find("nested too deeply") != std::string::npos);

  std::string nots;
  for (int i = 0; i <= kMaxNesting; ++i) nots += "not ";
  CHECK_FALSE(parse_segment(nots + "a"));
  CHECK(parse_segment(std::string(kMaxNesting, '(') + "a" + std::string(kMaxNesting, ')')));

  std::string chain = "a0 = 0";
  for (int i = 1; i < 5000; ++i) chain += " and a" + std::to_string(i) + " = " + std::to_string(i);
  CHECK(parse_segment(chain));
}
