#include "daemon/delivery/flow_gate.hpp"

#include <algorithm>
#include <cmath>

namespace campaignd::delivery {

namespace {
constexpr double kMinFactor = 0.05;
constexpr double kRecoveryStep = 0.1;
// A full slot frees when a send finishes, and the engine wakes its workers then; this is only
// the fallback look-again time.
constexpr std::int64_t kSlotPollMs = 20;
}  // namespace

FlowGate::FlowGate(FlowLimits limits, ThrottleSettings throttle, std::int64_t now_ms)
    : limits_(limits), throttle_(throttle), refilled_at_(now_ms), last_change_(now_ms) {}

double FlowGate::effective_rate() const { return limits_.rate > 0 ? limits_.rate * factor_ * share_ : 0; }

int FlowGate::effective_concurrency() const {
  if (limits_.concurrency > 0) return std::max(1, static_cast<int>(std::floor(limits_.concurrency * factor_)));
  if (factor_ >= 1.0) return 0;
  // No cap of our own, but the far side pushed back: cap at a share of what was open then.
  return std::max(1, static_cast<int>(std::floor(static_cast<double>(unlimited_base_) * factor_)));
}

void FlowGate::recover(std::int64_t now_ms) {
  if (factor_ >= 1.0 || now_ms < paused_until_ || throttle_.recovery_ms <= 0) return;
  std::int64_t steps = (now_ms - last_change_) / throttle_.recovery_ms;
  if (steps <= 0) return;
  factor_ = std::min(1.0, factor_ + kRecoveryStep * static_cast<double>(steps));
  last_change_ += steps * throttle_.recovery_ms;
  if (factor_ >= 1.0) pause_ms_ = 0;  // fully recovered: the next throttle starts the backoff afresh
}

std::optional<std::int64_t> FlowGate::admit(std::int64_t now_ms) { return admit(now_ms, true); }

std::optional<std::int64_t> FlowGate::admit_riding(std::int64_t now_ms) { return admit(now_ms, false); }

std::optional<std::int64_t> FlowGate::admit(std::int64_t now_ms, bool take_slot) {
  recover(now_ms);
  if (now_ms < paused_until_) return paused_until_;
  int cap = effective_concurrency();
  if (take_slot && cap > 0 && in_flight_ >= cap) return now_ms + kSlotPollMs;
  // Riding is for a gate at full flow: one that was pushed back gets no message beyond its slots.
  if (!take_slot && factor_ < 1.0) return now_ms + kSlotPollMs;
  double rate = effective_rate();
  if (rate > 0) {
    double burst = std::max(1.0, rate);
    tokens_ = std::min(burst, tokens_ + rate * static_cast<double>(now_ms - refilled_at_) / 1000.0);
    refilled_at_ = now_ms;
    if (tokens_ < 1.0) {
      auto wait = static_cast<std::int64_t>(std::ceil((1.0 - tokens_) / rate * 1000.0));
      return now_ms + std::max<std::int64_t>(1, wait);
    }
    tokens_ -= 1.0;
  } else {
    refilled_at_ = now_ms;
  }
  if (take_slot) ++in_flight_;
  return std::nullopt;
}

void FlowGate::cancel() {
  if (in_flight_ > 0) --in_flight_;
  cancel_riding();
}

void FlowGate::cancel_riding() {
  if (effective_rate() > 0) tokens_ += 1.0;
}

void FlowGate::finish(Outcome outcome, std::int64_t now_ms, const std::string& reason) {
  if (in_flight_ > 0) --in_flight_;
  switch (outcome) {
    case Outcome::sent: {
      ++sent_;
      std::int64_t second = now_ms / 1000;
      auto slot = static_cast<size_t>(second % kRateSeconds);
      if (rate_second_[slot] != second) {
        rate_second_[slot] = second;
        rate_count_[slot] = 0;
      }
      ++rate_count_[slot];
      return;
    }
    case Outcome::failed: ++failed_; return;
    case Outcome::deferred: ++deferred_; return;
    case Outcome::throttled: break;
  }
  ++deferred_;
  ++throttles_;
  last_reason_ = reason;
  // Several sessions hear the same push-back at once: slow down once per pause, not per reply.
  if (now_ms < paused_until_) return;
  if (limits_.concurrency <= 0 && factor_ >= 1.0) unlimited_base_ = std::max(1, in_flight_ + 1);
  factor_ = std::max(kMinFactor, factor_ * 0.5);
  pause_ms_ = pause_ms_ == 0 ? throttle_.pause_ms : std::min(throttle_.max_pause_ms, pause_ms_ * 2);
  paused_until_ = now_ms + pause_ms_;
  last_change_ = paused_until_;  // recovery is counted from the end of the pause
  tokens_ = 0;
}

FlowSnapshot FlowGate::snapshot(std::int64_t now_ms) const {
  FlowSnapshot s;
  s.configured = limits_;
  s.factor = factor_;
  s.effective_rate = effective_rate();
  s.effective_concurrency = effective_concurrency();
  s.in_flight = in_flight_;
  s.paused_for_ms = std::max<std::int64_t>(0, paused_until_ - now_ms);
  s.sent = sent_;
  s.deferred = deferred_;
  s.failed = failed_;
  s.throttles = throttles_;
  s.last_reason = last_reason_;
  std::int64_t total = 0;
  for (int i = 0; i < kRateSeconds; ++i)
    if (rate_second_[i] > now_ms / 1000 - kRateSeconds) total += rate_count_[i];
  s.send_rate = static_cast<double>(total) / kRateSeconds;
  return s;
}

}  // namespace campaignd::delivery
