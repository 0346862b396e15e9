// http/admin_session: signed session cookies, one-time login codes and the failure brake.
#include <doctest/doctest.h>

#include <string>

#include "daemon/http/admin_session.hpp"

using namespace campaignd;
using http::AdminSessions;

TEST_CASE("a session made under the token is valid until it expires, and holds no token") {
  util::ManualClock clock(1'800'000'000);
  AdminSessions sessions("the-admin-token", clock, 3600);
  REQUIRE(sessions.enabled());
  std::string value = sessions.new_session();
  CHECK(value.starts_with("v1."));
  CHECK(value.find("the-admin-token") == std::string::npos);
  CHECK(sessions.session_valid(value));
  CHECK(sessions.new_session() != value);  // each carries its own nonce

  clock.advance_seconds(3599);
  CHECK(sessions.session_valid(value));
  clock.advance_seconds(1);
  CHECK_FALSE(sessions.session_valid(value));
}

TEST_CASE("altered, foreign and malformed session values are refused") {
  util::ManualClock clock(1'800'000'000);
  AdminSessions sessions("the-admin-token", clock);
  AdminSessions other("another-token", clock);
  std::string value = sessions.new_session();

  CHECK_FALSE(other.session_valid(value));  // a token change ends every session
  auto dot = value.find('.', 3);
  std::string later = "v1." + std::to_string(1'900'000'000) + value.substr(dot);  // extended expiry
  CHECK_FALSE(sessions.session_valid(later));
  std::string flipped = value;
  flipped.back() = flipped.back() == 'A' ? 'B' : 'A';
  CHECK_FALSE(sessions.session_valid(flipped));
  for (const char* bad : {"", ".", "v1", "v1...", "v1.x.y.z", "garbage", "v2.1.2.3"}) {
    CAPTURE(bad);
    CHECK_FALSE(sessions.session_valid(bad));
  }
  CHECK_FALSE(sessions.session_valid(std::string(5000, 'a')));

  // With no admin token nothing is valid, not even a value made then.
  AdminSessions disabled("", clock);
  CHECK_FALSE(disabled.enabled());
  CHECK_FALSE(disabled.session_valid(disabled.new_session()));
  CHECK_FALSE(disabled.token_matches(""));
}

TEST_CASE("token_matches compares the whole token") {
  util::ManualClock clock(0);
  AdminSessions sessions("secret-token", clock);
  CHECK(sessions.token_matches("secret-token"));
  CHECK_FALSE(sessions.token_matches("secret-toke"));
  CHECK_FALSE(sessions.token_matches("secret-token "));
  CHECK_FALSE(sessions.token_matches(""));
}

TEST_CASE("the Set-Cookie values carry the flags a session cookie needs") {
  util::ManualClock clock(1'800'000'000);
  AdminSessions sessions("t", clock, 600);
  std::string cookie = sessions.set_cookie(false);
  CHECK(cookie.starts_with("campaignd_admin=v1."));
  CHECK(cookie.find("; HttpOnly") != std::string::npos);
  CHECK(cookie.find("; SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("; Path=/") != std::string::npos);
  CHECK(cookie.find("; Max-Age=600") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos);
  CHECK(sessions.set_cookie(true).ends_with("; Secure"));
  CHECK(AdminSessions::clear_cookie(false).find("Max-Age=0") != std::string::npos);

  std::string value = cookie.substr(cookie.find('=') + 1, cookie.find(';') - cookie.find('=') - 1);
  CHECK(sessions.session_valid(AdminSessions::cookie_value("other=1; campaignd_admin=" + value + "; x=y")));
}

TEST_CASE("cookie_value finds our cookie in a Cookie header, and nothing in malformed ones") {
  CHECK(AdminSessions::cookie_value("campaignd_admin=abc") == "abc");
  CHECK(AdminSessions::cookie_value("a=1;campaignd_admin=abc;b=2") == "abc");
  CHECK(AdminSessions::cookie_value("  a=1 ;  campaignd_admin = abc  ") == "abc");
  CHECK(AdminSessions::cookie_value("campaignd_admin=\"abc\"") == "abc");
  CHECK(AdminSessions::cookie_value("campaignd_admin=first; campaignd_admin=second") == "first");
  CHECK(AdminSessions::cookie_value("xcampaignd_admin=abc") == "");
  CHECK(AdminSessions::cookie_value("campaignd_adminx=abc") == "");
  CHECK(AdminSessions::cookie_value("campaignd_admin") == "");
  CHECK(AdminSessions::cookie_value("") == "");
  CHECK(AdminSessions::cookie_value(";;;=;") == "");
}

TEST_CASE("a login code works once, and only before it expires") {
  util::ManualClock clock(1'800'000'000);
  AdminSessions sessions("t", clock);
  std::string code = sessions.new_login_code();
  CHECK(code.size() == 43);
  CHECK_FALSE(sessions.redeem_login_code(code + "x"));
  CHECK(sessions.redeem_login_code(code));
  CHECK_FALSE(sessions.redeem_login_code(code));  // spent

  std::string late = sessions.new_login_code();
  clock.advance_seconds(AdminSessions::kLoginLinkSeconds);
  CHECK_FALSE(sessions.redeem_login_code(late));
  CHECK_FALSE(sessions.redeem_login_code(""));

  AdminSessions disabled("", clock);
  CHECK_FALSE(disabled.redeem_login_code(disabled.new_login_code()));
}

TEST_CASE("failed logins are braked for a minute past the limit") {
  util::ManualClock clock(1'800'000'000);
  AdminSessions sessions("t", clock);
  for (std::size_t i = 0; i < AdminSessions::kMaxFailures; ++i) {
    CHECK(sessions.attempts_allowed());
    sessions.record_failure();
  }
  CHECK_FALSE(sessions.attempts_allowed());
  clock.advance_seconds(59);
  CHECK_FALSE(sessions.attempts_allowed());
  clock.advance_seconds(1);
  CHECK(sessions.attempts_allowed());
}
