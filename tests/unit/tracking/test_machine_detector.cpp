// MachineDetector: each rule on its own with a driven clock, the agents that must pass, and the
// bounded memory of recent clicks.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "daemon/tracking/machine_detector.hpp"

using namespace campaignd;
using tracking::Hit;
using tracking::HitKind;

namespace {

constexpr const char* kChrome =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36";

Hit open_hit(std::int64_t send_id, std::string_view ua = kChrome) {
  Hit h;
  h.kind = HitKind::open;
  h.send_id = send_id;
  h.user_agent = ua;
  return h;
}

Hit click_hit(std::int64_t send_id, std::string_view url, std::string_view ua = kChrome) {
  Hit h = open_hit(send_id, ua);
  h.kind = HitKind::click;
  h.url = url;
  return h;
}

}  // namespace

TEST_CASE("machine_detector: a browser long after sending is human") {
  util::ManualClock clock(1'000'000);
  tracking::MachineDetector detector(clock);
  Hit h = open_hit(1);
  h.sent_at = 1'000'000 - 3600;
  auto v = detector.classify(h);
  CHECK_FALSE(v.machine);
  CHECK(v.reason.empty());
  h.sent_at.reset();  // unknown send time: no timing rule
  CHECK_FALSE(detector.classify(h).machine);
}

TEST_CASE("machine_detector: HEAD requests") {
  util::ManualClock clock(1'000'000);
  tracking::MachineDetector detector(clock);
  Hit h = open_hit(1);
  h.method = "HEAD";
  auto v = detector.classify(h);
  CHECK(v.machine);
  CHECK(v.reason == "HEAD request");
  Hit c = click_hit(1, "https://a.example/");
  c.method = "head";
  CHECK(detector.classify(c).machine);
}

TEST_CASE("machine_detector: user agents") {
  struct Case {
    const char* ua;
    bool machine;
  };
  const std::vector<Case> cases = {
      {"", true},
      {"   ", true},
      {"Mozilla/5.0", true},  // Apple Mail Privacy Protection
      {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b", true},
      {"Barracuda Sentinel (EE)", true},
      {"Mozilla/5.0 (compatible; Mimecast URL protect)", true},
      {"Proofpoint URL Defense", true},
      {"python-requests/2.31.0", true},
      {"curl/7.88.1", true},
      {"Go-http-client/1.1", true},
      {"Wget/1.21.3", true},
      {"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36", true},
      // People:
      {kChrome, false},
      {"Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)", false},
      {"YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html", false},
      {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", false},
      {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)", false},
      {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)", false},
      {"Thunderbird/115.0 curly", false},  // "curl" only counts as "curl/"
  };
  util::ManualClock clock(1'000'000);
  tracking::MachineDetector detector(clock);
  for (const auto& c : cases) {
    CAPTURE(c.ua);
    auto v = detector.classify(open_hit(7, c.ua));
    CHECK(v.machine == c.machine);
    CHECK(v.reason.empty() == !c.machine);
    CHECK(tracking::machine_user_agent_reason(c.ua).empty() == !c.machine);
  }
  CHECK(tracking::machine_user_agent_reason("Mozilla/5.0").find("Apple Mail Privacy Protection") != std::string::npos);
  CHECK(tracking::machine_user_agent_reason("curl/8.0") == "user agent: curl");
}

TEST_CASE("machine_detector: too soon after sending, for opens and clicks") {
  util::ManualClock clock(2'000'000);
  tracking::MachineDetector detector(clock);
  Hit h = open_hit(1);
  h.sent_at = 2'000'000 - 9;
  auto v = detector.classify(h);
  CHECK(v.machine);
  CHECK(v.reason == "within 10s of sending");
  h.sent_at = 2'000'000 - 10;
  CHECK_FALSE(detector.classify(h).machine);
  h.sent_at = 2'000'000 + 5;  // the hit came before we wrote sent_at: a gateway at delivery
  CHECK(detector.classify(h).machine);

  Hit c = click_hit(2, "https://a.example/");
  c.sent_at = 2'000'000;
  CHECK(detector.classify(c).machine);
  clock.advance_seconds(11);
  CHECK_FALSE(detector.classify(c).machine);

  tracking::MachineDetector strict(clock, {.seconds_after_send = 60});
  c.send_id = 3;
  CHECK(strict.classify(c).reason == "within 60s of sending");
}

TEST_CASE("machine_detector: several links of one send within the burst window") {
  util::ManualClock clock(3'000'000);
  tracking::MachineDetector detector(clock);
  CHECK_FALSE(detector.classify(click_hit(1, "https://a.example/1")).machine);
  // The same link again is a double click, not a scanner.
  CHECK_FALSE(detector.classify(click_hit(1, "https://a.example/1")).machine);
  // Another send's links are not part of this send's burst.
  CHECK_FALSE(detector.classify(click_hit(2, "https://a.example/2")).machine);
  auto v = detector.classify(click_hit(1, "https://a.example/2"));
  CHECK(v.machine);
  CHECK(v.reason.find("several links") != std::string::npos);
  CHECK(detector.classify(click_hit(1, "https://a.example/3")).machine);
  // Opens are not clicks: they do not take part.
  CHECK_FALSE(detector.classify(open_hit(1)).machine);
}

TEST_CASE("machine_detector: clicks far enough apart are human") {
  util::ManualClock clock(3'000'000);
  tracking::MachineDetector detector(clock);
  CHECK_FALSE(detector.classify(click_hit(1, "https://a.example/1")).machine);
  clock.advance_seconds(3);
  CHECK_FALSE(detector.classify(click_hit(1, "https://a.example/2")).machine);
  clock.advance_seconds(3);
  CHECK_FALSE(detector.classify(click_hit(1, "https://a.example/3")).machine);

  tracking::MachineDetector lenient(clock, {.burst_distinct_links = 3});
  CHECK_FALSE(lenient.classify(click_hit(5, "https://a.example/1")).machine);
  CHECK_FALSE(lenient.classify(click_hit(5, "https://a.example/2")).machine);
  CHECK(lenient.classify(click_hit(5, "https://a.example/3")).machine);
}

TEST_CASE("machine_detector: memory of recent clicks is bounded and forgets") {
  util::ManualClock clock(4'000'000);
  tracking::MachineDetector detector(clock, {.max_recent_hits = 100});
  for (int i = 0; i < 1000; ++i) detector.classify(click_hit(i, "https://a.example/"));
  CHECK(detector.tracked_sends() <= 100);
  CHECK(detector.tracked_sends() > 0);
  clock.advance_seconds(5);
  detector.classify(click_hit(5000, "https://a.example/"));
  CHECK(detector.tracked_sends() == 1);
  // One send flooding with clicks stays bounded too.
  for (int i = 0; i < 1000; ++i) detector.classify(click_hit(6000, "https://a.example/" + std::to_string(i)));
  CHECK(detector.tracked_sends() <= 2);
}

TEST_CASE("machine_detector: concurrent callers") {
  util::ManualClock clock(5'000'000);
  tracking::MachineDetector detector(clock, {.max_recent_hits = 500});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&detector, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string url = "https://a.example/" + std::to_string(i % 7);
        detector.classify(click_hit(t * 100000 + i % 300, url));
      }
    });
  for (auto& th : threads) th.join();
  CHECK(detector.tracked_sends() <= 500);
}
