#include "daemon/campaigns/ab_test.hpp"

namespace campaignd::campaigns {

AbVerdict decide_ab_test(const std::vector<VariantNumbers>& numbers, double confidence) {
  AbVerdict v;
  if (numbers.empty()) return v;
  std::vector<analytics::Proportion> groups;
  const VariantNumbers* best = &numbers.front();
  for (const auto& n : numbers) {
    groups.push_back({n.responded, n.sent});
    if (n.rate() > best->rate()) best = &n;  // strictly better: ties stay with the earlier variant
  }
  v.winner = best->variant;
  v.test = analytics::compare_proportions(groups);
  v.significant = v.test.p_value < 1.0 - confidence;
  return v;
}

}  // namespace campaignd::campaigns
