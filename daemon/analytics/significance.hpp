// Significance tests for comparing response rates (proportions) between groups, as an A/B test
// needs them: two-proportion z-test, Fisher's exact test, chi-square test of independence.
// Pure functions of counts; no store, no clock.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace campaignd::analytics {

// `successes` of `trials` (e.g. contacts who clicked, of contacts sent to).
struct Proportion {
  std::int64_t successes = 0;
  std::int64_t trials = 0;
};

struct TestResult {
  std::string test;        // "two-proportion z-test" | "fisher exact" | "chi-square"
  double statistic = 0.0;  // z, chi-square; for Fisher's test the observed table's probability
  double p_value = 1.0;    // two-sided for two groups
  int degrees_of_freedom = 0;  // chi-square only
};

// P(Z > z) for a standard normal Z.
double normal_upper_tail(double z);
// P(X > x) for X chi-square distributed with `df` degrees of freedom (the regularized upper
// incomplete gamma Q(df/2, x/2)).
double chi_square_upper_tail(double x, double df);

// Pooled two-proportion z-test, two-sided. p = 1 when there is no variance (no successes at
// all, or only successes) or a group is empty.
TestResult two_proportion_z_test(Proportion a, Proportion b);
// Fisher's exact test on the 2x2 table (successes, failures) x (a, b), two-sided: the sum of
// the probabilities of all tables with the same margins no more likely than the observed one.
TestResult fisher_exact_test(Proportion a, Proportion b);
// Chi-square test of independence on the k x 2 table (groups x success/failure), df = k - 1.
// Groups with no trials are left out.
TestResult chi_square_test(const std::vector<Proportion>& groups);

// The test an A/B decision uses, chosen by the shape of the data:
// - two groups, every expected cell count >= 5: the z-test (the normal approximation holds and
//   it is the test marketers know);
// - two groups with an expected count below 5: Fisher's exact test, because the normal
//   approximation is poor there (small test groups, rare replies or conversions);
// - more than two groups: the chi-square test of independence (a z-test per pair would
//   inflate the false-positive rate). Its approximation is rough when expected counts are
//   small; the caller records the test used so the report can say so.
TestResult compare_proportions(const std::vector<Proportion>& groups);

}  // namespace campaignd::analytics
