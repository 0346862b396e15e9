// A/B decisions: the numbers of each variant's test group, the significance test, the winner.
// Pure: no store, no clock (the scheduler feeds it; ab_decisions.hpp keeps the outcome).
//
// The rule: the winner is the variant with the highest response rate (responded / sent); a tie
// goes to the variant declared first. The significance test (analytics::compare_proportions:
// z-test, Fisher's exact or chi-square, by the data's shape) only says how sure we are: when
// p >= 1 - confidence the winner is still the best point estimate (there is no evidence it is
// worse, and the rest of the list has to get something), recorded with significant = false.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/analytics/significance.hpp"

namespace campaignd::campaigns {

struct VariantNumbers {
  std::string variant;
  std::int64_t sent = 0;       // test sends that went out
  std::int64_t responded = 0;  // distinct contacts among them with a human event of the metric
  double rate() const { return sent > 0 ? static_cast<double>(responded) / static_cast<double>(sent) : 0.0; }
};

struct AbVerdict {
  std::string winner;
  analytics::TestResult test;
  bool significant = false;
};

// `numbers` in the file's variant order (at least one).
AbVerdict decide_ab_test(const std::vector<VariantNumbers>& numbers, double confidence);

}  // namespace campaignd::campaigns
