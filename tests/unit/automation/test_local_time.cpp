// Contacts' time zones for `at:` steps, and anniversaries for date triggers.
#include <doctest/doctest.h>

#include <filesystem>

#include "daemon/automation/local_time.hpp"

using namespace campaignd::automation;
using campaignd::util::UnixTime;

TEST_CASE("fixed offsets") {
  CHECK(parse_fixed_offset("UTC") == 0);
  CHECK(parse_fixed_offset("Z") == 0);
  CHECK(parse_fixed_offset("+02:00") == 7200);
  CHECK(parse_fixed_offset("-0530") == -(5 * 3600 + 1800));
  CHECK(parse_fixed_offset("GMT+2") == 7200);
  CHECK(parse_fixed_offset("utc-11") == -11 * 3600);
  CHECK(!parse_fixed_offset("Europe/Paris"));
  CHECK(!parse_fixed_offset("+25:00"));
  CHECK(!parse_fixed_offset("+2:0"));
  CHECK(!parse_fixed_offset("+"));
  CHECK(!parse_fixed_offset(""));
}

TEST_CASE("next_local_time") {
  const UnixTime day = 1'780'012'800;  // 2026-05-29T00:00:00Z
  nlohmann::json utc = nlohmann::json::object();
  CHECK(next_local_time(day, 9 * 60, utc) == day + 9 * 3600);
  CHECK(next_local_time(day + 9 * 3600, 9 * 60, utc) == day + 9 * 3600);  // exactly now
  CHECK(next_local_time(day + 10 * 3600, 9 * 60, utc) == day + 86400 + 9 * 3600);
  nlohmann::json tokyo = {{"timezone", "+09:00"}};
  CHECK(next_local_time(day, 9 * 60, tokyo) == day);  // 09:00 in Tokyo is 00:00 UTC
  nlohmann::json ny = {{"utc_offset", -4}};
  CHECK(next_local_time(day, 9 * 60, ny) == day + 13 * 3600);
  nlohmann::json junk = {{"timezone", "Mars/Olympus"}};
  CHECK(next_local_time(day, 9 * 60, junk) == day + 9 * 3600);
  nlohmann::json sneaky = {{"timezone", "../../etc/passwd"}};
  CHECK(next_local_time(day, 9 * 60, sneaky) == day + 9 * 3600);
}

TEST_CASE("IANA zones from the system's zoneinfo, with daylight saving time") {
  if (!std::filesystem::exists(std::string(kSystemZoneinfo) + "/Europe/Paris")) return;
  const UnixTime summer = 1'780'012'800;  // 2026-05-29: CEST, +2
  const UnixTime winter = 1'767'225'600;  // 2026-01-01: CET, +1
  CHECK(zone_offset_at("Europe/Paris", summer) == 7200);
  CHECK(zone_offset_at("Europe/Paris", winter) == 3600);
  CHECK(zone_offset_at("America/New_York", winter) == -5 * 3600);
  CHECK(!zone_offset_at("No/Such_Zone", winter));
  nlohmann::json paris = {{"timezone", "Europe/Paris"}};
  CHECK(next_local_time(summer, 9 * 60, paris) == summer + 7 * 3600);
  // Across the change of 2026-03-29 (02:00 CET -> 03:00 CEST): 09:00 on the 29th is 07:00 UTC.
  const UnixTime before_change = 1'774'738'800;  // 2026-03-28T23:00:00Z = 00:00 CET on the 29th
  CHECK(next_local_time(before_change, 9 * 60, paris) == 1'774'767'600);
}

TEST_CASE("date_trigger_due") {
  const UnixTime may28 = 1'779'926'400;  // 2026-05-28T00:00:00Z
  CHECK(date_trigger_due("1990-05-28", 0, may28 + 3600, 86400) == may28);
  CHECK(date_trigger_due("05-28", 0, may28 + 3600, 86400) == may28);
  CHECK(date_trigger_due("--05-28", 0, may28, 86400) == may28);
  CHECK(date_trigger_due("1990-05-28T10:00:00Z", 0, may28 + 3600, 86400) == may28);
  CHECK(!date_trigger_due("1990-05-28", 0, may28 - 1, 86400));
  CHECK(!date_trigger_due("1990-05-28", 0, may28 + 86400, 86400));
  CHECK(date_trigger_due("1990-06-04", -7 * 86400, may28 + 5, 86400) == may28);
  // Near new year the anniversary of another year counts.
  const UnixTime dec31 = 1'798'675'200;  // 2026-12-31T00:00:00Z
  CHECK(date_trigger_due("2000-01-01", -86400, dec31 + 10, 86400) == dec31);
  // 29 February in a common year fires on the 28th.
  const UnixTime feb28 = 1'772'236'800;  // 2026-02-28T00:00:00Z
  CHECK(date_trigger_due("2000-02-29", 0, feb28 + 10, 86400) == feb28);
  for (const char* bad : {"", "someday", "1990-13-01", "1990-00-10", "1990-04-31", "1990/05/28", "5-28", "1990-05-28x"}) {
    CAPTURE(bad);
    CHECK(!date_trigger_due(bad, 0, may28, 86400 * 400));
  }
}
