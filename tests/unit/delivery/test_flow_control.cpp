// delivery/flow_gate, send_budget, push_back, destination: the pieces of per-relay and
// per-destination flow control, driven by explicit times.
#include <doctest/doctest.h>

#include "daemon/delivery/destination.hpp"
#include "daemon/delivery/flow_gate.hpp"
#include "daemon/delivery/push_back.hpp"
#include "daemon/delivery/send_budget.hpp"

using namespace campaignd;
using delivery::FlowGate;

namespace {
delivery::ThrottleSettings throttle() { return {1000, 8000, 500}; }
}  // namespace

TEST_CASE("flow gate: concurrency cap and slot release") {
  FlowGate gate({2, 0}, throttle(), 0);
  CHECK_FALSE(gate.admit(0));
  CHECK_FALSE(gate.admit(0));
  auto later = gate.admit(0);
  REQUIRE(later);
  CHECK(*later > 0);
  gate.finish(FlowGate::Outcome::sent, 1);
  CHECK_FALSE(gate.admit(1));
  gate.cancel();
  CHECK(gate.snapshot(1).sent == 1);
  CHECK(gate.snapshot(1).in_flight == 1);
}

TEST_CASE("flow gate: a message riding on a counted session passes the cap, pays the rate, holds no slot") {
  FlowGate gate({1, 0}, throttle(), 0);
  CHECK_FALSE(gate.admit(0));
  CHECK(gate.admit(0));            // the cap: one session
  CHECK_FALSE(gate.admit_riding(0));  // the next message of that session
  CHECK(gate.snapshot(0).in_flight == 1);
  gate.finish(FlowGate::Outcome::sent, 1);
  gate.occupy();  // the rider is now that session's current message
  CHECK(gate.snapshot(1).in_flight == 1);
  CHECK(gate.admit(1));  // still one session's worth
  gate.finish(FlowGate::Outcome::sent, 2);
  CHECK(gate.snapshot(2).in_flight == 0);

  FlowGate paced({0, 10}, throttle(), 0);
  CHECK_FALSE(paced.admit(0));
  CHECK(paced.admit_riding(0));  // no token left: a rider waits for the rate like anyone
  CHECK_FALSE(paced.admit_riding(100));
  paced.cancel_riding();  // it will not go: the token comes back
  CHECK_FALSE(paced.admit(100));
  CHECK(paced.snapshot(100).in_flight == 2);  // the two admitted; the rider held none

  // Pushed back: no riders until the flow has recovered, though slots are free after the pause.
  FlowGate pushed({4, 0}, throttle(), 0);
  CHECK_FALSE(pushed.admit(0));
  pushed.finish(FlowGate::Outcome::throttled, 0, "421 slow down");
  CHECK(pushed.admit_riding(10));
  CHECK(pushed.admit_riding(2000));  // after the pause, still at half flow
  CHECK_FALSE(pushed.admit(2000));
  pushed.finish(FlowGate::Outcome::sent, 2001);
  CHECK_FALSE(pushed.admit_riding(20'000));  // recovered after long enough without push-back
  CHECK(pushed.snapshot(20'000).factor == 1.0);
}

TEST_CASE("flow gate: a rate paces admissions with a one-second burst") {
  FlowGate gate({0, 10}, throttle(), 0);
  // Starts with one token; then one every 100 ms.
  CHECK_FALSE(gate.admit(0));
  auto next = gate.admit(0);
  REQUIRE(next);
  CHECK(*next == 100);
  CHECK_FALSE(gate.admit(100));
  CHECK(gate.admit(150));
  // After a long idle time the burst is capped at a second's worth (10).
  int admitted = 0;
  while (!gate.admit(10'000)) ++admitted;
  CHECK(admitted == 10);
}

TEST_CASE("flow gate: with a share of the rate (several nodes) it paces to that share") {
  FlowGate gate({4, 10}, throttle(), 0);
  gate.set_share(0.5);  // two nodes: 5/s each, 10/s together
  CHECK(gate.snapshot(0).effective_rate == doctest::Approx(5.0));
  CHECK(gate.snapshot(0).effective_concurrency == 4);  // sessions stay per node
  CHECK_FALSE(gate.admit(0));
  auto next = gate.admit(0);
  REQUIRE(next);
  CHECK(*next == 200);
  gate.cancel();
  gate.set_share(0);  // nonsense: the whole rate
  CHECK(gate.snapshot(0).effective_rate == doctest::Approx(10.0));
}

TEST_CASE("flow gate: a throttle halves the flow and pauses it; recovery is gradual") {
  FlowGate gate({8, 100}, throttle(), 0);
  REQUIRE_FALSE(gate.admit(0));
  REQUIRE_FALSE(gate.admit(10));
  gate.finish(FlowGate::Outcome::throttled, 10, "421 4.7.0 Try again later");
  auto s = gate.snapshot(10);
  CHECK(s.factor == doctest::Approx(0.5));
  CHECK(s.effective_concurrency == 4);
  CHECK(s.effective_rate == doctest::Approx(50));
  CHECK(s.paused_for_ms == 1000);
  CHECK(s.last_reason == "421 4.7.0 Try again later");
  // The second in-flight message hears the same push-back: no second halving.
  gate.finish(FlowGate::Outcome::throttled, 20, "421 4.7.0 Try again later");
  CHECK(gate.snapshot(20).factor == doctest::Approx(0.5));
  CHECK(gate.snapshot(20).throttles == 2);
  // Paused: nothing goes until 1010.
  auto later = gate.admit(500);
  REQUIRE(later);
  CHECK(*later == 1010);
  // Recovery: +0.1 per clean 500 ms after the pause ends.
  CHECK(gate.snapshot(1010).factor == doctest::Approx(0.5));
  (void)gate.admit(1510);
  CHECK(gate.snapshot(1510).factor == doctest::Approx(0.6));
  (void)gate.admit(3510);
  CHECK(gate.snapshot(3510).factor == doctest::Approx(1.0));
}

TEST_CASE("flow gate: repeated throttles double the pause up to the maximum") {
  FlowGate gate({0, 0}, throttle(), 0);
  std::int64_t t = 0;
  std::int64_t expected[] = {1000, 2000, 4000, 8000, 8000};
  for (auto pause : expected) {
    REQUIRE_FALSE(gate.admit(t));
    gate.finish(FlowGate::Outcome::throttled, t, "421");
    CHECK(gate.paused_until() - t == pause);
    t = gate.paused_until();
  }
  // Without a cap of its own, a throttled gate caps itself at a share of what was open.
  CHECK(gate.snapshot(t).effective_concurrency >= 1);
  CHECK(gate.snapshot(t).factor < 0.1);
}

TEST_CASE("send budget: a sliding window cap and when it reopens") {
  delivery::SendBudget budget({util::Rate{3, 86400}, {}});
  util::UnixTime t = 1'800'000'000;  // 2027-01-15 08:00 UTC
  CHECK_FALSE(budget.blocked(t));
  budget.take(t);
  budget.take(t + 10);
  budget.take(t + 4000);
  auto b = budget.blocked(t + 5000);
  REQUIRE(b);
  // The oldest hour counted is t's hour; it leaves the 24 h window an hour after it plus 24 h.
  CHECK(b->until == (t / 3600 + 1) * 3600 + 86400);
  CHECK(b->reason.find("window cap") != std::string::npos);
  budget.give_back(t + 4000);
  CHECK_FALSE(budget.blocked(t + 5000));
  CHECK(budget.used_in_window(t + 5000) == 2);
}

TEST_CASE("send budget: a warm-up schedule caps each UTC day, then ends") {
  delivery::SendBudget budget({std::nullopt, {2, 3}});
  util::UnixTime day1 = delivery::utc_day_start(1'800'000'000);
  budget.set_warmup_start(day1);
  CHECK(budget.today_cap(day1 + 100) == 2);
  budget.take(day1 + 100);
  budget.take(day1 + 200);
  auto b = budget.blocked(day1 + 300);
  REQUIRE(b);
  CHECK(b->until == day1 + 86400);
  CHECK(b->reason.find("warm-up day 1") != std::string::npos);
  // Day 2: three more.
  util::UnixTime day2 = day1 + 86400;
  CHECK(budget.today_cap(day2) == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK_FALSE(budget.blocked(day2 + i));
    budget.take(day2 + i);
  }
  CHECK(budget.blocked(day2 + 10));
  // Day 3: the schedule is over, no cap.
  CHECK_FALSE(budget.today_cap(day2 + 86400));
  CHECK_FALSE(budget.blocked(day2 + 86400));
}

TEST_CASE("push-back: relay down, destination or relay throttling, or this message") {
  using transport::Outcome;
  using transport::ReplyStage;
  using delivery::PushBack;
  auto r = [](Outcome o, int code, std::string enhanced, std::string text, ReplyStage stage) {
    return transport::SendResult{o, code, std::move(enhanced), std::move(text), stage};
  };
  CHECK(delivery::classify_push_back(r(Outcome::sent, 250, "", "ok", ReplyStage::end_of_data)) == PushBack::none);
  CHECK(delivery::classify_push_back(r(Outcome::retry, 0, "", "Couldn't connect to server", ReplyStage::none)) ==
        PushBack::relay_down);
  CHECK(delivery::classify_push_back(r(Outcome::retry, 421, "", "too busy", ReplyStage::session)) ==
        PushBack::relay_down);
  CHECK(delivery::classify_push_back(r(Outcome::retry, 421, "4.7.0", "Try again later", ReplyStage::rcpt)) ==
        PushBack::domain_throttle);
  CHECK(delivery::classify_push_back(r(Outcome::retry, 450, "4.2.1", "receiving mail too fast", ReplyStage::rcpt)) ==
        PushBack::domain_throttle);
  CHECK(delivery::classify_push_back(
            r(Outcome::retry, 454, "4.7.0", "Throttling failure: Maximum sending rate exceeded", ReplyStage::mail)) ==
        PushBack::relay_throttle);
  // Greylisting and local trouble are this message's business.
  CHECK(delivery::classify_push_back(
            r(Outcome::retry, 451, "4.3.0", "Temporary local problem, try again later", ReplyStage::end_of_data)) ==
        PushBack::message);
  CHECK(delivery::classify_push_back(r(Outcome::retry, 452, "4.2.2", "Mailbox over quota limit", ReplyStage::rcpt)) ==
        PushBack::message);
  // A connection dropped after the data is ambiguous about the message, not proof the relay is down.
  CHECK(delivery::classify_push_back(r(Outcome::retry, 0, "", "dropped", ReplyStage::data)) == PushBack::message);
  CHECK(delivery::classify_push_back(r(Outcome::failed, 550, "5.1.1", "User unknown", ReplyStage::rcpt)) ==
        PushBack::message);
}

TEST_CASE("destination: providers that share MX hosts are one destination") {
  CHECK(delivery::destination_of("a@gmail.com") == "gmail.com");
  CHECK(delivery::destination_of("a@GoogleMail.com") == "gmail.com");
  CHECK(delivery::destination_of("a@hotmail.co.uk") == "outlook.com");
  CHECK(delivery::destination_of("a@live.fr") == "outlook.com");
  CHECK(delivery::destination_of("a@yahoo.co.jp") == "yahoo.com");
  CHECK(delivery::destination_of("a@me.com") == "icloud.com");
  CHECK(delivery::destination_of("a@Example.ORG.") == "example.org");
  // Only a country suffix may follow a provider's name.
  CHECK(delivery::destination_of("a@hotmail.evil.example") == "hotmail.evil.example");
  CHECK(delivery::destination_of("no-domain") == "");
  CHECK(delivery::destination_of("a@") == "");
}

TEST_CASE("flow gate: the recent send rate counts the last ten seconds") {
  FlowGate gate({0, 0}, throttle(), 0);
  for (int i = 0; i < 30; ++i) {
    REQUIRE_FALSE(gate.admit(i * 100));
    gate.finish(FlowGate::Outcome::sent, i * 100);
  }
  CHECK(gate.snapshot(2999).send_rate == doctest::Approx(3.0));
  // At 11.5 s only second 2 (10 sends) is still inside the last ten seconds.
  CHECK(gate.snapshot(11'500).send_rate == doctest::Approx(1.0));
  CHECK(gate.snapshot(20'000).send_rate == doctest::Approx(0.0));
}
