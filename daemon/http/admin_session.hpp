// Admin sessions for browsers, which cannot send a bearer header: a signed cookie that a
// POST /login with the admin token, or a one-time login link, hands out.
//
// The cookie never holds the token. Its value is "v1.EXPIRES.NONCE.MAC", MAC an HMAC-SHA256
// over "v1.EXPIRES.NONCE" under a key derived from the admin token, so sessions survive a
// restart, die with a token change, and cannot be made without the token. Comparisons are
// constant time. Login links ("/login/CODE") are random, single use and short-lived; only
// their SHA-256 is kept, in memory. Failed logins are braked: past kMaxFailures in a minute,
// every attempt is refused until the minute has passed.
//
// Thread-safety: every member may be called from any number of threads at once.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "daemon/util/clock.hpp"

namespace campaignd::http {

class AdminSessions {
 public:
  static constexpr std::string_view kCookieName = "campaignd_admin";
  static constexpr std::int64_t kDefaultTtlSeconds = 12 * 3600;
  static constexpr std::int64_t kLoginLinkSeconds = 60;
  static constexpr std::size_t kMaxFailures = 10;  // per rolling minute, all clients together

  // An empty admin token disables everything: no token matches, no session is valid.
  AdminSessions(std::string admin_token, const util::Clock& clock, std::int64_t ttl_seconds = kDefaultTtlSeconds);

  bool enabled() const { return !admin_token_.empty(); }
  // Constant time; false when disabled.
  bool token_matches(std::string_view presented) const;

  // A fresh session value for the cookie.
  std::string new_session() const;
  // True for a value new_session() made under the same token that has not expired.
  bool session_valid(std::string_view value) const;
  // Set-Cookie header values: a new session (HttpOnly, SameSite=Strict, Path=/, Max-Age, and
  // Secure when asked), or one that removes it.
  std::string set_cookie(bool secure) const;
  static std::string clear_cookie(bool secure);
  // Our cookie's value in a Cookie request header ("a=b; campaignd_admin=...; c=d"), or "".
  static std::string cookie_value(std::string_view cookie_header);

  // A one-time login code for "/login/CODE" (43 base64url characters), valid kLoginLinkSeconds.
  std::string new_login_code();
  // True once for a code new_login_code() made that has not expired; it is then spent.
  bool redeem_login_code(std::string_view code);

  // The brute-force brake: false while kMaxFailures failures fell in the last 60 s.
  bool attempts_allowed();
  void record_failure();

 private:
  std::string mac(std::string_view payload) const;

  std::string admin_token_;
  std::string key_;  // HMAC key derived from the token
  const util::Clock& clock_;
  std::int64_t ttl_seconds_;
  mutable std::mutex mutex_;
  std::map<std::string, util::UnixTime> codes_;  // sha256 hex of a login code -> expiry; guarded by mutex_
  std::deque<util::UnixTime> failures_;          // times of recent failed logins; guarded by mutex_
};

}  // namespace campaignd::http
