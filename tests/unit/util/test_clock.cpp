// util/clock: ISO-8601 and RFC 5322 dates, durations, and the manual clock tests drive.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "daemon/util/clock.hpp"

using namespace campaignd;
using util::parse_duration_seconds;
using util::parse_iso8601;

namespace {
constexpr util::UnixTime k20260301_0900 = 1772355600;  // 2026-03-01T09:00:00Z (date -u -d ... +%s)
}

TEST_CASE("iso8601: UTC designator, lower-case t/z and a space separator") {
  CHECK(parse_iso8601("2026-03-01T09:00:00Z") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01t09:00:00z") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01 09:00") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T09:00") == k20260301_0900);
  CHECK(parse_iso8601("  2026-03-01T09:00:00Z\n") == k20260301_0900);
  CHECK(parse_iso8601("1970-01-01T00:00:00Z") == 0);
  CHECK(parse_iso8601("2026-11-24T14:28:53Z") == 1795530533);
}

TEST_CASE("iso8601: a time without an offset is UTC; a date alone is midnight UTC") {
  CHECK(parse_iso8601("2026-03-01T09:00:00") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01") == 1772323200);
  CHECK(parse_iso8601("2024-02-29") == 1709164800);  // leap day
}

TEST_CASE("iso8601: numeric offsets with and without a colon, hours only") {
  CHECK(parse_iso8601("2026-03-01T10:00:00+01:00") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T10:00:00+0100") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T10:00:00+01") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T03:30:00-0530") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T03:30:00-05:30") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T09:00:00+00:00") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T09:00:00-00:00") == k20260301_0900);
  // The offset can move the instant across a day boundary.
  CHECK(parse_iso8601("2026-03-01T01:00:00+02:00") == 1772323200 - 3600);
}

TEST_CASE("iso8601: fractional seconds are accepted and dropped") {
  CHECK(parse_iso8601("2026-03-01T09:00:00.123Z") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T09:00:00,999999+00:00") == k20260301_0900);
  CHECK(parse_iso8601("2026-03-01T10:00:00.5+01:00") == k20260301_0900);
}

TEST_CASE("iso8601: impossible dates and times are refused") {
  CHECK_FALSE(parse_iso8601("2026-02-30"));
  CHECK_FALSE(parse_iso8601("2026-02-29"));  // 2026 is not a leap year
  CHECK_FALSE(parse_iso8601("1900-02-29"));  // century rule
  CHECK(parse_iso8601("2000-02-29"));        // 400-year rule
  CHECK_FALSE(parse_iso8601("2026-04-31"));
  CHECK_FALSE(parse_iso8601("2026-13-01"));
  CHECK_FALSE(parse_iso8601("2026-00-10"));
  CHECK_FALSE(parse_iso8601("2026-01-00"));
  CHECK_FALSE(parse_iso8601("2026-01-32"));
  CHECK_FALSE(parse_iso8601("2026-03-01T24:00:00Z"));
  CHECK_FALSE(parse_iso8601("2026-03-01T09:60:00Z"));
  CHECK_FALSE(parse_iso8601("2026-03-01T09:00:61Z"));
  CHECK_FALSE(parse_iso8601("2026-03-01T09:00:00+24:00"));
  CHECK_FALSE(parse_iso8601("2026-03-01T09:00:00+01:60"));
}

TEST_CASE("iso8601: garbage and truncated input") {
  for (const char* bad :
       {"", "   ", "now", "tomorrow", "2026", "2026-03", "2026-3-1", "26-03-01", "2026/03/01", "2026-03-01T",
        "2026-03-01T09", "2026-03-01T9:00", "2026-03-01T09:0", "2026-03-01T09:00:0", "2026-03-01T09:00:00Q",
        "2026-03-01T09:00:00+", "2026-03-01T09:00:00+1", "2026-03-01T09:00:00+01:0", "2026-03-01T09:00:00ZZ",
        "2026-03-01x", "2026-03-01T09:00:00Z trailing", "2026-03-01 09:00 UTC", "abcd-ef-gh", "2026-03-01T09:00:00+01:00:00"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_iso8601(bad));
  }
}

TEST_CASE("iso8601: format and parse round-trip") {
  CHECK(util::format_iso8601(k20260301_0900) == "2026-03-01T09:00:00Z");
  CHECK(util::format_iso8601(0) == "1970-01-01T00:00:00Z");
  for (util::UnixTime t : {util::UnixTime{0}, util::UnixTime{1709164800}, util::UnixTime{1795530533},
                           util::UnixTime{4102444799}, util::UnixTime{951782400}}) {
    CAPTURE(t);
    CHECK(parse_iso8601(util::format_iso8601(t)) == t);
  }
  // Every hour of a (leap) year, so every month boundary is crossed.
  for (util::UnixTime t = 1704067200; t < 1704067200 + 366 * 86400; t += 3600 + 17) {
    auto back = parse_iso8601(util::format_iso8601(t));
    REQUIRE(back);
    CHECK(*back == t);
  }
}

TEST_CASE("rfc5322 date: day and month names, zero padding, +0000") {
  CHECK(util::format_rfc5322_date(1795530533) == "Tue, 24 Nov 2026 14:28:53 +0000");
  CHECK(util::format_rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  CHECK(util::format_rfc5322_date(k20260301_0900) == "Sun, 01 Mar 2026 09:00:00 +0000");
  CHECK(util::format_rfc5322_date(1709164800) == "Thu, 29 Feb 2024 00:00:00 +0000");
}

TEST_CASE("durations: units, bare seconds, malformed and negative") {
  CHECK(parse_duration_seconds("30s") == 30);
  CHECK(parse_duration_seconds("15m") == 900);
  CHECK(parse_duration_seconds("3h") == 10800);
  CHECK(parse_duration_seconds("7d") == 604800);
  CHECK(parse_duration_seconds("2w") == 1209600);
  CHECK(parse_duration_seconds("90") == 90);
  CHECK(parse_duration_seconds("0s") == 0);
  CHECK(parse_duration_seconds(" 5m ") == 300);
  CHECK(parse_duration_seconds("24h") == 86400);
  for (const char* bad : {"", " ", "s", "m", "-5s", "-1", "1.5h", "5x", "5 minutes", "h5", "5mm", "1e3s", "0x10",
                          "99999999999999999999s", "1099511627777"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_duration_seconds(bad));
  }
}

TEST_CASE("manual clock: moves only when told, in seconds and milliseconds") {
  util::ManualClock clock(1000);
  CHECK(clock.now() == 1000);
  CHECK(clock.now_ms() == 1'000'000);
  clock.advance_seconds(59);
  CHECK(clock.now() == 1059);
  clock.set(5);
  CHECK(clock.now() == 5);
  CHECK(clock.now_ms() == 5000);
  util::SystemClock system;
  auto s = system.now();
  CHECK(s > 1'700'000'000);
  CHECK(system.now_ms() / 1000 >= s);
}
