// consent/client_rate_limiter: a burst of `count`, refilled over `period`, per client; a node's
// share when several nodes count the same client.
#include <doctest/doctest.h>

#include "daemon/consent/client_rate_limiter.hpp"

using namespace campaignd;

TEST_CASE("client rate limiter: a burst, then refusals, then tokens come back with time") {
  util::ManualClock clock{1'800'000'000};
  consent::ClientRateLimiter limiter({10, 60}, clock);
  for (int i = 0; i < 10; ++i) CHECK(limiter.allow("198.51.100.7"));
  CHECK_FALSE(limiter.allow("198.51.100.7"));
  CHECK(limiter.allow("203.0.113.9"));  // another client has its own bucket
  CHECK(limiter.retry_after("198.51.100.7") == 6);  // one token per 6 s
  clock.advance_seconds(6);
  CHECK(limiter.allow("198.51.100.7"));
  CHECK_FALSE(limiter.allow("198.51.100.7"));
}

TEST_CASE("client rate limiter: with three nodes each allows a third, and at least one request") {
  util::ManualClock clock{1'800'000'000};
  consent::ClientRateLimiter limiter({12, 60}, clock);
  limiter.set_share(1.0 / 3);
  int allowed = 0;
  for (int i = 0; i < 12; ++i) allowed += limiter.allow("198.51.100.7") ? 1 : 0;
  CHECK(allowed == 4);
  CHECK(limiter.retry_after("198.51.100.7") == 15);  // 4 per minute on this node
  clock.advance_seconds(15);
  CHECK(limiter.allow("198.51.100.7"));

  consent::ClientRateLimiter tiny({2, 60}, clock);
  tiny.set_share(0.1);
  CHECK(tiny.allow("198.51.100.8"));
  CHECK_FALSE(tiny.allow("198.51.100.8"));

  consent::ClientRateLimiter unlimited({0, 1}, clock);
  unlimited.set_share(0.5);
  for (int i = 0; i < 100; ++i) REQUIRE(unlimited.allow("198.51.100.9"));
}
