// Time as the engine sees it: whole Unix seconds, read through a Clock so tests can drive it.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace campaignd::util {

using UnixTime = std::int64_t;  // seconds since the epoch, UTC

// Thread-safe: now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual UnixTime now() const = 0;
  // Milliseconds, for rates and latencies.
  virtual std::int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  UnixTime now() const override;
  std::int64_t now_ms() const override;
};

// A clock a test moves by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(UnixTime start) : ms_(start * 1000) {}
  UnixTime now() const override { return ms_.load() / 1000; }
  std::int64_t now_ms() const override { return ms_.load(); }
  void advance_seconds(std::int64_t s) { ms_ += s * 1000; }
  void set(UnixTime t) { ms_ = t * 1000; }

 private:
  std::atomic<std::int64_t> ms_;
};

// ISO-8601: "2026-03-01", "2026-03-01T09:00:00Z", "2026-03-01T09:00:00+01:00", "2026-03-01 09:00".
// A time without an offset is taken as UTC.
std::optional<UnixTime> parse_iso8601(std::string_view text);
std::string format_iso8601(UnixTime t);
// RFC 5322 Date header value, e.g. "Tue, 24 Nov 2026 14:28:53 +0000".
std::string format_rfc5322_date(UnixTime t);
// "30s", "15m", "3h", "7d", "2w", bare seconds "90"; nullopt when malformed or negative.
std::optional<std::int64_t> parse_duration_seconds(std::string_view text);

}  // namespace campaignd::util
