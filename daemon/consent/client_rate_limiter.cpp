#include "daemon/consent/client_rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace campaignd::consent {

void ClientRateLimiter::refill(Bucket& b, std::int64_t now_ms) const {
  double per_ms = capacity() / (static_cast<double>(rate_.period_seconds) * 1000.0);
  b.tokens = std::min(capacity(), b.tokens + static_cast<double>(now_ms - b.last_ms) * per_ms);
  b.last_ms = now_ms;
}

bool ClientRateLimiter::allow(const std::string& client) {
  if (rate_.unlimited()) return true;
  std::int64_t now_ms = clock_.now_ms();
  std::lock_guard lock(mutex_);
  if (buckets_.size() >= max_clients_ && !buckets_.contains(client)) {
    // Drop buckets that have filled up again: they carry no information.
    std::int64_t full_after_ms = rate_.period_seconds * 1000;
    std::erase_if(buckets_, [&](const auto& kv) { return now_ms - kv.second.last_ms >= full_after_ms; });
    if (buckets_.size() >= max_clients_) return false;  // under a flood, refuse new clients
  }
  auto [it, inserted] = buckets_.try_emplace(client, Bucket{capacity(), now_ms});
  Bucket& b = it->second;
  if (!inserted) refill(b, now_ms);
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

std::int64_t ClientRateLimiter::retry_after(const std::string& client) const {
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(client);
  if (it == buckets_.end() || rate_.unlimited()) return 1;
  Bucket b = it->second;
  refill(b, clock_.now_ms());
  double per_s = capacity() / static_cast<double>(rate_.period_seconds);
  double wait = (1.0 - b.tokens) / per_s;
  return std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(wait)));
}

}  // namespace campaignd::consent
