// How fast mail may flow through one channel — a relay, or a destination domain — and how that
// changes when the far side pushes back. One class serves both: a concurrency cap, a paced rate
// (token bucket, a burst of at most one second), a pause after throttling replies, and
// adaptation: each throttle halves the allowed flow (rate and concurrency) and pauses it; every
// `recovery` period without a throttle gives back a tenth of the full flow, so recovery is
// gradual (additive increase, multiplicative decrease, as TCP does).
//
// Not thread-safe: the delivery engine calls it under its own lock. Times are steady-clock
// milliseconds, passed in, so tests drive it without sleeping.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace campaignd::delivery {

struct FlowLimits {
  int concurrency = 0;    // sessions at once; 0 = no cap of its own
  double rate = 0;        // messages per second; 0 = unlimited
};

struct ThrottleSettings {
  std::int64_t pause_ms = 60'000;       // first pause after a throttling reply
  std::int64_t max_pause_ms = 1'800'000;  // pauses double up to this
  std::int64_t recovery_ms = 60'000;    // clean time that gives back a tenth of the flow
};

struct FlowSnapshot {
  FlowLimits configured;
  double factor = 1.0;      // share of the configured flow now allowed (0.05 .. 1)
  double effective_rate = 0;  // 0 = unlimited
  int effective_concurrency = 0;  // 0 = unlimited
  int in_flight = 0;
  std::int64_t paused_for_ms = 0;  // 0 = not paused
  std::int64_t sent = 0, deferred = 0, failed = 0, throttles = 0;
  std::string last_reason;  // the last throttling reply, for /status
  double send_rate = 0;     // messages sent per second over the last 10 s
};

class FlowGate {
 public:
  FlowGate(FlowLimits limits, ThrottleSettings throttle, std::int64_t now_ms);

  // Takes a slot (and a token) when a message may start now; otherwise says when to ask again
  // (never earlier than now + 1 ms). A paused gate admits nothing until the pause ends.
  std::optional<std::int64_t> admit(std::int64_t now_ms);
  // For a message that rides on a session this gate already counts (the next one a session opens
  // while its current one is in flight): the pause and the rate apply, the concurrency cap does
  // not, and it holds no slot until it becomes the session's current message (occupy()). Only a
  // gate at full flow takes riders: after a throttle, none until it has recovered.
  std::optional<std::int64_t> admit_riding(std::int64_t now_ms);
  void occupy() { ++in_flight_; }
  // A riding message that will not go: its token comes back.
  void cancel_riding();
  // Gives the slot back; `outcome` counts it.
  enum class Outcome { sent, failed, deferred, throttled };
  void finish(Outcome outcome, std::int64_t now_ms, const std::string& reason = {});
  // A slot taken but never used (the message went elsewhere): no count, the token comes back.
  void cancel();

  // This node's part of the configured rate when several nodes send through the same relay or to
  // the same destination (1 / live nodes), so the limit holds for all of them together.
  // Concurrency stays per node: each node opens its own sessions.
  void set_share(double share) { share_ = share > 0 && share <= 1 ? share : 1.0; }

  // When the gate opens again after a throttle (now_ms when it is open).
  std::int64_t paused_until() const { return paused_until_; }
  bool paused(std::int64_t now_ms) const { return now_ms < paused_until_; }
  FlowSnapshot snapshot(std::int64_t now_ms) const;

 private:
  void recover(std::int64_t now_ms);
  std::optional<std::int64_t> admit(std::int64_t now_ms, bool take_slot);
  double effective_rate() const;
  int effective_concurrency() const;

  FlowLimits limits_;
  ThrottleSettings throttle_;
  double factor_ = 1.0;
  double share_ = 1.0;
  double tokens_ = 1.0;
  std::int64_t refilled_at_;
  std::int64_t paused_until_ = 0;
  std::int64_t pause_ms_ = 0;        // the current pause length (doubles while throttles repeat)
  std::int64_t last_change_;         // last throttle or recovery step
  int in_flight_ = 0;
  int unlimited_base_ = 1;           // sessions open at the first throttle, when there is no cap
  std::int64_t sent_ = 0, deferred_ = 0, failed_ = 0, throttles_ = 0;
  std::string last_reason_;
  // Sends per second over the last kRateSeconds, for /status: (second, count) in a ring.
  static constexpr int kRateSeconds = 10;
  std::int64_t rate_second_[kRateSeconds] = {};
  std::int64_t rate_count_[kRateSeconds] = {};
};

}  // namespace campaignd::delivery
