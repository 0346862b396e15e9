// The ab_decisions table (migration 5): one row per A/B-tested campaign. Written by the
// scheduler in the same transaction as the sends it queues: `testing` with the test group,
// `decided` with the remainder queued for the winner — so a crash never leaves a decision
// without its sends, or sends without their decision. Read by `campaignd report`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "daemon/campaigns/ab_test.hpp"
#include "daemon/campaigns/campaign.hpp"
#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::campaigns {

struct AbDecision {
  std::int64_t campaign_id = 0;
  std::string state;   // testing | decided
  std::string metric;  // opens | clicks | replies | conversions
  double fraction = 0.0;
  double confidence = 0.0;
  std::int64_t test_size = 0;  // sends queued for the test group
  util::UnixTime started_at = 0;
  util::UnixTime decide_at = 0;
  // Once decided:
  std::optional<std::string> test;  // "two-proportion z-test" | "fisher exact" | "chi-square"
  std::optional<double> statistic;
  std::optional<double> p_value;
  bool significant = false;
  std::optional<std::string> winner;
  std::vector<VariantNumbers> numbers;  // in the file's variant order
  std::optional<std::int64_t> remainder;  // sends queued with the winner
  std::optional<util::UnixTime> decided_at;
};

// A new test: state testing, decided at started_at + test.wait_seconds.
Status record_ab_start(const store::Database& db, std::int64_t campaign_id, const AbTest& test,
                       std::int64_t test_size, util::UnixTime started_at);
// The verdict and its numbers; the row becomes `decided`.
Status record_ab_decision(const store::Database& db, std::int64_t campaign_id, const AbVerdict& verdict,
                          const std::vector<VariantNumbers>& numbers, std::int64_t remainder, util::UnixTime now);
// Campaigns whose test is still `testing` and due at `now`.
Result<std::vector<std::int64_t>> ab_tests_due(const store::Database& db, util::UnixTime now);
// True while the campaign's test waits for its decision (the campaign is not done then).
Result<bool> ab_test_pending(const store::Database& db, std::int64_t campaign_id);
// Whether any campaign's test waits for its decision.
Result<bool> any_ab_test_pending(const store::Database& db);
// The campaign's A/B test, if it has one.
Result<std::optional<AbDecision>> load_ab_decision(const store::Database& db, std::int64_t campaign_id);

}  // namespace campaignd::campaigns
