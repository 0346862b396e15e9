// Rates ("50/s", "20000/24h") and a thread-safe limiter that paces callers to one.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace campaignd::util {

struct Rate {
  double count = 0;  // events allowed per period; 0 = unlimited
  std::int64_t period_seconds = 1;
  double per_second() const { return count <= 0 ? 0.0 : count / static_cast<double>(period_seconds); }
  bool unlimited() const { return count <= 0; }
  std::string to_string() const;
};

// "50/s", "14/s", "3/m", "50000/24h", "100/d", or a bare number meaning per second.
std::optional<Rate> parse_rate(std::string_view text);

// Paces callers to a rate with a burst of at most one second's worth. Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(double per_second = 0);
  void set_rate(double per_second);  // 0 = unlimited
  // Blocks until one more event fits the rate; false if `stop` became true while waiting.
  bool acquire(const std::atomic<bool>& stop);

 private:
  // Takes a token if one is there (returns 0), otherwise the time until one will be.
  std::chrono::microseconds reserve();

  std::mutex mutex_;
  double per_second_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace campaignd::util
