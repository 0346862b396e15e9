// util/rate: rate syntax and the limiter's pacing (lower bounds only: the machine may be slow).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "daemon/util/rate.hpp"

using namespace campaignd;
using util::parse_rate;

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

TEST_CASE("rate: count per unit, per multi-unit period, bare numbers") {
  auto r = parse_rate("50/s");
  REQUIRE(r);
  CHECK(r->count == 50);
  CHECK(r->period_seconds == 1);
  CHECK(r->per_second() == doctest::Approx(50));

  r = parse_rate("3000/h");
  REQUIRE(r);
  CHECK(r->count == 3000);
  CHECK(r->period_seconds == 3600);
  CHECK(r->per_second() == doctest::Approx(3000.0 / 3600));

  r = parse_rate("50000/24h");
  REQUIRE(r);
  CHECK(r->period_seconds == 86400);
  CHECK(r->per_second() == doctest::Approx(50000.0 / 86400));

  r = parse_rate("14");
  REQUIRE(r);
  CHECK(r->count == 14);
  CHECK(r->period_seconds == 1);

  r = parse_rate("3/m");
  REQUIRE(r);
  CHECK(r->period_seconds == 60);
  r = parse_rate("100/d");
  REQUIRE(r);
  CHECK(r->period_seconds == 86400);
  r = parse_rate(" 20 / 10s ");
  REQUIRE(r);
  CHECK(r->count == 20);
  CHECK(r->period_seconds == 10);
  r = parse_rate("0.5/s");
  REQUIRE(r);
  CHECK(r->per_second() == doctest::Approx(0.5));
}

TEST_CASE("rate: zero is unlimited") {
  auto r = parse_rate("0");
  REQUIRE(r);
  CHECK(r->unlimited());
  CHECK(r->per_second() == 0);
  CHECK(r->to_string() == "unlimited");
  CHECK(util::Rate{}.unlimited());
  auto s = parse_rate("14/s");
  REQUIRE(s);
  CHECK_FALSE(s->unlimited());
  CHECK(s->to_string() == "14/1s");
  CHECK(parse_rate("50000/24h")->to_string() == "50000/86400s");
}

TEST_CASE("rate: malformed rates are refused") {
  for (const char* bad : {"", " ", "fast", "/s", "50/", "50/0s", "50/0", "-5/s", "-1", "50/x", "50/-1h", "50 per s",
                          "50/s/h", "5O/s", "nan", "inf", "inf/s", "50//s", "50/1.5h", "1,000/h"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_rate(bad));
  }
}

TEST_CASE("rate limiter: unlimited never waits") {
  util::RateLimiter limiter(0);
  std::atomic<bool> stop{false};
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10000; ++i) REQUIRE(limiter.acquire(stop));
  CHECK(seconds_since(start) < 5.0);
}

TEST_CASE("rate limiter: a burst of one second's worth, then paced to the rate") {
  // 50/s: the first 50 go at once, the next 30 need 30/50 = 0.6 s.
  util::RateLimiter limiter(50);
  std::atomic<bool> stop{false};
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 10; ++i) REQUIRE(limiter.acquire(stop));
  CHECK(seconds_since(start) < 0.5);  // no pacing inside the burst
  for (int i = 10; i < 80; ++i) REQUIRE(limiter.acquire(stop));
  CHECK(seconds_since(start) >= 0.5);
}

TEST_CASE("rate limiter: set_rate changes the pace, and the burst shrinks with it") {
  util::RateLimiter limiter(0);
  std::atomic<bool> stop{false};
  limiter.set_rate(10);  // burst is now at most one
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 6; ++i) REQUIRE(limiter.acquire(stop));
  CHECK(seconds_since(start) >= 0.4);  // 5 waits of 0.1 s
}

TEST_CASE("rate limiter: several threads share one rate") {
  util::RateLimiter limiter(50);
  std::atomic<bool> stop{false};
  std::atomic<int> acquired{0};
  auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i)
        if (limiter.acquire(stop)) ++acquired;
    });
  for (auto& t : threads) t.join();
  CHECK(acquired == 80);
  CHECK(seconds_since(start) >= 0.45);  // 30 beyond the burst at 50/s = 0.6 s
}

TEST_CASE("rate limiter: stop ends a wait with false") {
  util::RateLimiter limiter(0.2);  // one every 5 s
  std::atomic<bool> stop{false};
  REQUIRE(limiter.acquire(stop));
  stop = true;
  auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(limiter.acquire(stop));
  CHECK(seconds_since(start) < 1.0);

  util::RateLimiter slow(0.2);
  std::atomic<bool> later{false};
  REQUIRE(slow.acquire(later));
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    later = true;
  });
  start = std::chrono::steady_clock::now();
  CHECK_FALSE(slow.acquire(later));
  stopper.join();
  CHECK(seconds_since(start) < 3.0);  // well before the 5 s the token would take
}
