#include "daemon/delivery/send_budget.hpp"

#include <algorithm>

namespace campaignd::delivery {

namespace {
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 86400;
}  // namespace

util::UnixTime utc_day_start(util::UnixTime t) { return t - ((t % kDay) + kDay) % kDay; }

std::int64_t SendBudget::sum_from_hour(std::int64_t first_hour) const {
  std::int64_t sum = 0;
  for (auto it = hours_.lower_bound(first_hour); it != hours_.end(); ++it) sum += it->second;
  return sum;
}

// Counting the whole hour the window starts in errs on the safe side: at most an hour early.
std::int64_t SendBudget::used_in_window(util::UnixTime now) const {
  if (!settings_.window) return 0;
  return sum_from_hour((now - settings_.window->period_seconds) / kHour);
}

std::int64_t SendBudget::used_today(util::UnixTime now) const { return sum_from_hour(utc_day_start(now) / kHour); }

std::optional<std::int64_t> SendBudget::today_cap(util::UnixTime now) const {
  if (settings_.warmup.empty()) return std::nullopt;
  util::UnixTime start = warmup_start_.value_or(utc_day_start(now));
  std::int64_t day = std::max<std::int64_t>(0, (utc_day_start(now) - start) / kDay);
  if (day >= static_cast<std::int64_t>(settings_.warmup.size())) return std::nullopt;
  return settings_.warmup[static_cast<size_t>(day)];
}

std::optional<SendBudget::Block> SendBudget::blocked(util::UnixTime now) const {
  if (auto cap = today_cap(now); cap && used_today(now) >= *cap) {
    std::int64_t day = (utc_day_start(now) - warmup_start_.value_or(utc_day_start(now))) / kDay + 1;
    return Block{utc_day_start(now) + kDay, "warm-up day " + std::to_string(day) + ": " + std::to_string(*cap) +
                                                " messages sent, the cap for today"};
  }
  if (settings_.window && !settings_.window->unlimited()) {
    auto cap = static_cast<std::int64_t>(settings_.window->count);
    std::int64_t first_hour = (now - settings_.window->period_seconds) / kHour;
    if (sum_from_hour(first_hour) >= cap) {
      // It reopens when the oldest hour that still counts leaves the window.
      auto oldest = hours_.lower_bound(first_hour);
      util::UnixTime until = (oldest->first + 1) * kHour + settings_.window->period_seconds;
      return Block{std::max(until, now + 1),
                   "window cap " + settings_.window->to_string() + " reached (" + std::to_string(cap) + " sent)"};
    }
  }
  return std::nullopt;
}

void SendBudget::take(util::UnixTime now) { ++hours_[now / kHour]; }

void SendBudget::give_back(util::UnixTime at) {
  auto it = hours_.find(at / kHour);
  if (it != hours_.end() && it->second > 0) --it->second;
}

void SendBudget::prune(util::UnixTime now) {
  std::int64_t keep_seconds = 2 * kDay;
  if (settings_.window) keep_seconds = std::max(keep_seconds, settings_.window->period_seconds + kHour);
  hours_.erase(hours_.begin(), hours_.lower_bound((now - keep_seconds) / kHour));
}

}  // namespace campaignd::delivery
