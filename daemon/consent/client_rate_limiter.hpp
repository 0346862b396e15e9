// Per-client-address token buckets for public endpoints (sign-up forms): each address may make
// `rate.count` requests per `rate.period`, with that many as a burst. Memory stays bounded:
// idle buckets are dropped when the table grows past its cap. Thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "daemon/util/clock.hpp"
#include "daemon/util/rate.hpp"

namespace campaignd::consent {

class ClientRateLimiter {
 public:
  ClientRateLimiter(util::Rate rate, const util::Clock& clock, size_t max_clients = 100'000)
      : rate_(rate), clock_(clock), max_clients_(max_clients) {}

  // True when the client may go ahead (and the request is counted); false: too many.
  bool allow(const std::string& client);
  // Seconds until the client may try again (for Retry-After), at least 1.
  std::int64_t retry_after(const std::string& client) const;
  // This node's part of the rate when several nodes behind one load balancer each count their
  // own requests (1 / nodes): a client gets the configured rate in all, not per node.
  void set_share(double share) { share_.store(std::clamp(share, 0.0, 1.0)); }

 private:
  struct Bucket {
    double tokens = 0;
    std::int64_t last_ms = 0;
  };
  void refill(Bucket& b, std::int64_t now_ms) const;
  double capacity() const { return std::max(1.0, rate_.count * share_.load()); }

  util::Rate rate_;
  const util::Clock& clock_;
  size_t max_clients_;
  std::atomic<double> share_{1.0};
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace campaignd::consent
