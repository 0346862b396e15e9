#include "daemon/util/rate.hpp"

#include <algorithm>
#include <thread>

#include "daemon/util/clock.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::util {

std::string Rate::to_string() const {
  if (unlimited()) return "unlimited";
  return std::to_string(static_cast<long long>(count)) + "/" + std::to_string(period_seconds) + "s";
}

std::optional<Rate> parse_rate(std::string_view text) {
  std::string_view s = trim(text);
  auto slash = s.find('/');
  double count;
  if (!parse_double(s.substr(0, slash), count) || count < 0) return std::nullopt;
  Rate rate{count, 1};
  if (slash == std::string_view::npos) return rate;
  std::string_view period = trim(s.substr(slash + 1));
  if (!period.empty() && !(period.front() >= '0' && period.front() <= '9')) {
    // "/s" means "/1s".
    auto seconds = parse_duration_seconds(std::string("1") + std::string(period));
    if (!seconds || *seconds <= 0) return std::nullopt;
    rate.period_seconds = *seconds;
    return rate;
  }
  auto seconds = parse_duration_seconds(period);
  if (!seconds || *seconds <= 0) return std::nullopt;
  rate.period_seconds = *seconds;
  return rate;
}

RateLimiter::RateLimiter(double per_second)
    : per_second_(per_second), tokens_(std::max(1.0, per_second)), last_(std::chrono::steady_clock::now()) {}

void RateLimiter::set_rate(double per_second) {
  std::lock_guard lock(mutex_);
  per_second_ = per_second;
  tokens_ = std::min(tokens_, std::max(1.0, per_second));
}

std::chrono::microseconds RateLimiter::reserve() {
  std::lock_guard lock(mutex_);
  if (per_second_ <= 0) return std::chrono::microseconds(0);
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - last_).count();
  last_ = now;
  tokens_ = std::min(std::max(1.0, per_second_), tokens_ + elapsed * per_second_);
  if (tokens_ >= 1.0) {
    tokens_ -= 1.0;
    return std::chrono::microseconds(0);
  }
  double wait_s = (1.0 - tokens_) / per_second_;
  return std::chrono::microseconds(static_cast<std::int64_t>(wait_s * 1e6) + 1);
}

bool RateLimiter::acquire(const std::atomic<bool>& stop) {
  while (true) {
    auto wait = reserve();
    if (wait.count() <= 0) return true;
    if (stop.load()) return false;
    std::this_thread::sleep_for(std::min(wait, std::chrono::microseconds(200'000)));
  }
}

}  // namespace campaignd::util
