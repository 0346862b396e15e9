// How many messages a relay may still send: a sliding-window cap ("50000/24h", what SES and
// most ESPs sell) and a warm-up schedule (500, 1000, 2000 ... per day from the day it began,
// then no cap), over per-hour counts that the engine loads from relay_usage at start-up.
// When the budget is spent the relay is unavailable until it reopens; the sends wait for that
// (or go to another relay that may carry them) instead of failing.
//
// Not thread-safe: the delivery engine calls it under its own lock. Wall-clock seconds.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/util/clock.hpp"
#include "daemon/util/rate.hpp"

namespace campaignd::delivery {

struct BudgetSettings {
  std::optional<util::Rate> window;      // at most count per period_seconds, sliding
  std::vector<std::int64_t> warmup;      // messages allowed on day 1, 2, ...; empty = none
};

class SendBudget {
 public:
  struct Block {
    util::UnixTime until = 0;  // when to look again
    std::string reason;
  };

  explicit SendBudget(BudgetSettings settings = {}) : settings_(std::move(settings)) {}

  bool has_warmup() const { return !settings_.warmup.empty(); }
  bool limited() const { return settings_.window.has_value() || has_warmup(); }
  void set_warmup_start(util::UnixTime day_start) { warmup_start_ = day_start; }
  std::optional<util::UnixTime> warmup_start() const { return warmup_start_; }
  void load(std::int64_t hour, std::int64_t sent) { hours_[hour] += sent; }

  // nullopt while one more message fits.
  std::optional<Block> blocked(util::UnixTime now) const;
  void take(util::UnixTime now);      // reserve one (when a message is handed to the relay)
  void give_back(util::UnixTime at);  // the reserved one was not sent after all

  std::int64_t used_in_window(util::UnixTime now) const;
  std::int64_t used_today(util::UnixTime now) const;
  // Today's warm-up cap; nullopt once the schedule is over (or without one).
  std::optional<std::int64_t> today_cap(util::UnixTime now) const;
  // Forgets hours no limit looks at any more.
  void prune(util::UnixTime now);

 private:
  std::int64_t sum_from_hour(std::int64_t first_hour) const;

  BudgetSettings settings_;
  std::optional<util::UnixTime> warmup_start_;
  std::map<std::int64_t, std::int64_t> hours_;  // hour -> messages
};

// 00:00 UTC of the day holding `t`.
util::UnixTime utc_day_start(util::UnixTime t);

}  // namespace campaignd::delivery
