// Tests for SMTP reply parsing: reply lines, enhanced status codes, multi-line assembly.
#include <doctest/doctest.h>

#include "daemon/transport/smtp_reply.hpp"

using namespace campaignd::transport;

TEST_SUITE("transport") {

TEST_CASE("smtp reply lines parse code, continuation and text") {
  auto last = parse_reply_line("250 2.0.0 Ok: queued as 12");
  REQUIRE(last);
  CHECK(last->code == 250);
  CHECK(last->last);
  CHECK(last->text == "2.0.0 Ok: queued as 12");

  auto more = parse_reply_line("250-SIZE 33554432");
  REQUIRE(more);
  CHECK_FALSE(more->last);
  CHECK(more->text == "SIZE 33554432");

  auto bare = parse_reply_line("354");
  REQUIRE(bare);
  CHECK(bare->code == 354);
  CHECK(bare->text.empty());
}

TEST_CASE("malformed smtp reply lines are rejected") {
  for (const char* bad : {"", "25", "2x0 ok", "abc", "250ok", "250_ok", "150 info", "650 nope", "099 x", " 250 ok"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_reply_line(bad));
  }
}

TEST_CASE("enhanced status codes are taken only when well formed and of the reply's class") {
  CHECK(parse_enhanced_code("5.1.1 User unknown", 550) == "5.1.1");
  CHECK(parse_enhanced_code("4.7.0", 421) == "4.7.0");
  CHECK(parse_enhanced_code("2.0.0 Ok", 250) == "2.0.0");
  CHECK(parse_enhanced_code("5.123.456 long", 554) == "5.123.456");

  CHECK(parse_enhanced_code("4.1.1 wrong class", 550).empty());
  CHECK(parse_enhanced_code("User unknown", 550).empty());
  CHECK(parse_enhanced_code("5.1 short", 550).empty());
  CHECK(parse_enhanced_code("5.1.", 550).empty());
  CHECK(parse_enhanced_code("5..1 x", 550).empty());
  CHECK(parse_enhanced_code("5.1234.1 x", 550).empty());
  CHECK(parse_enhanced_code("5.1.1234 x", 550).empty());
  CHECK(parse_enhanced_code("5.1.1x text", 550).empty());
  CHECK(parse_enhanced_code("", 550).empty());
}

TEST_CASE("the reply assembler joins multi-line replies and survives split and bad input") {
  ReplyAssembler a;
  a.feed("220 smtp.test ESMTP\r\n");
  auto greeting = a.next();
  REQUIRE(greeting);
  CHECK(greeting->code == 220);
  CHECK(greeting->text == "smtp.test ESMTP");
  CHECK_FALSE(a.next());

  // One reply split across chunks at awkward places.
  a.feed("550-5.1.1 The email account");
  CHECK_FALSE(a.next());
  a.feed(" does not exist\r\n550 5.1.1 Try double-checking\r");
  CHECK_FALSE(a.next());
  a.feed("\n");
  auto refusal = a.next();
  REQUIRE(refusal);
  CHECK(refusal->code == 550);
  CHECK(refusal->enhanced == "5.1.1");
  CHECK(refusal->text == "The email account does not exist Try double-checking");

  // Two replies in one chunk come out in order; garbage lines are skipped.
  a.feed("garbage\r\n250 2.1.0 Ok\r\n354 End data\r\n");
  auto first = a.next();
  auto second = a.next();
  REQUIRE(first);
  REQUIRE(second);
  CHECK(first->code == 250);
  CHECK(second->code == 354);
  CHECK(second->enhanced.empty());

  // A continuation whose code changes starts over with the new code.
  a.feed("250-first\r\n451 4.3.0 later\r\n");
  auto switched = a.next();
  REQUIRE(switched);
  CHECK(switched->code == 451);
  CHECK(switched->text == "later");

  a.feed("250-unfinished\r\n");
  a.clear();
  a.feed("221 bye\r\n");
  auto bye = a.next();
  REQUIRE(bye);
  CHECK(bye->text == "bye");
}

}  // TEST_SUITE
