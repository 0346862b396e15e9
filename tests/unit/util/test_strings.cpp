// util/strings: the small helpers every parser leans on.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/util/strings.hpp"

using namespace campaignd;

TEST_CASE("strings: trim, to_lower, iequals") {
  CHECK(util::trim("  a b \t\r\n") == "a b");
  CHECK(util::trim("") == "");
  CHECK(util::trim(" \t ") == "");
  CHECK(util::to_lower("MiXeD 123 ÄB") == "mixed 123 Äb");
  CHECK(util::iequals("Now", "nOW"));
  CHECK_FALSE(util::iequals("now", "no"));
  CHECK_FALSE(util::iequals("now", "nox"));
}

TEST_CASE("strings: split keeps empty fields") {
  CHECK(util::split("a,b,,c", ',') == std::vector<std::string>{"a", "b", "", "c"});
  CHECK(util::split("", ',') == std::vector<std::string>{""});
  CHECK(util::split(",", ',') == std::vector<std::string>{"", ""});
  CHECK(util::split("abc", ',') == std::vector<std::string>{"abc"});
}

TEST_CASE("strings: replace_all, including growing and empty patterns") {
  CHECK(util::replace_all("a.b.c", ".", "::") == "a::b::c");
  CHECK(util::replace_all("aaa", "a", "aa") == "aaaaaa");  // no endless loop on self-similar text
  CHECK(util::replace_all("abc", "", "x") == "abc");
  CHECK(util::replace_all("abc", "d", "x") == "abc");
}

TEST_CASE("strings: strip_controls replaces CR, LF, NUL and DEL with spaces") {
  CHECK(util::strip_controls("Subject\r\nBcc: x") == "Subject  Bcc: x");
  CHECK(util::strip_controls(std::string("a\0b\x7f" "c\td", 7)) == "a b c d");
  CHECK(util::strip_controls("héllo") == "héllo");
}

TEST_CASE("strings: parse_int and parse_double take the whole text or nothing") {
  long long n = 0;
  CHECK(util::parse_int("42", n));
  CHECK(n == 42);
  CHECK(util::parse_int(" -7 ", n));
  CHECK(n == -7);
  CHECK(util::parse_int("+3", n));
  CHECK(n == 3);
  for (const char* bad : {"", " ", "4 2", "42x", "0x10", "1.0", "+", "-", "++1", "99999999999999999999"}) {
    CAPTURE(bad);
    CHECK_FALSE(util::parse_int(bad, n));
  }
  double d = 0;
  CHECK(util::parse_double("2.5", d));
  CHECK(d == 2.5);
  CHECK(util::parse_double("-1e3", d));
  CHECK(d == -1000);
  CHECK(util::parse_double("+0.5", d));
  CHECK(d == 0.5);
  for (const char* bad : {"", "abc", "1.5.2", "1,5", "nan", "inf", "-inf", "1e999", "2.5x"}) {
    CAPTURE(bad);
    CHECK_FALSE(util::parse_double(bad, d));
  }
}
