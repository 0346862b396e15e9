// analytics/significance and campaigns/ab_test: the tests against values worked out by hand and
// the decision rule (best point estimate, ties to the first variant, significance recorded).
//
// Expected values (Python 3, math module only):
//   z-test 30/200 vs 50/200: pooled 0.2, se = sqrt(0.2*0.8*(2/200)) = 0.04, z = -2.5,
//     p = erfc(2.5/sqrt(2)) = 0.012419330651552278
//   Fisher 3/4 vs 1/4 (the tea-tasting table): P(observed) = 16/70, p = 34/70 = 0.4857142857142857
//   Fisher 1/10 vs 7/10: p = 0.01976661109788045 (sum of hypergeometric terms <= P(observed))
//   Chi-square 10/100, 20/100, 30/100: expected 20/80 per group, chi2 = 5+5+1.25+1.25 = 12.5,
//     df 2, p = exp(-12.5/2) = 0.0019304541362277093
//   Chi-square 10, 20, 30, 40 of 100 each: chi2 = 26.666..., df 3,
//     p = erfc(sqrt(x/2)) + sqrt(2x/pi) exp(-x/2) = 6.914913279310525e-06
//   P(Z > 1.96) = 0.024997895148220435; chi-square df 1 beyond 3.841: 0.05001368376395671
//     (= erfc(sqrt(3.841/2))); df 4 beyond 0.5: exp(-0.25) * (1 + 0.25) = 0.9735009788392561
#include <doctest/doctest.h>

#include <vector>

#include "daemon/analytics/significance.hpp"
#include "daemon/campaigns/ab_test.hpp"

using namespace campaignd;
using analytics::Proportion;

TEST_CASE("significance: distribution tails") {
  CHECK(analytics::normal_upper_tail(1.96) == doctest::Approx(0.024997895148220435).epsilon(1e-9));
  CHECK(analytics::normal_upper_tail(0.0) == doctest::Approx(0.5));
  CHECK(analytics::chi_square_upper_tail(3.841, 1) == doctest::Approx(0.05001368376395671).epsilon(1e-9));
  CHECK(analytics::chi_square_upper_tail(12.5, 2) == doctest::Approx(0.0019304541362277093).epsilon(1e-9));
  CHECK(analytics::chi_square_upper_tail(0.5, 4) == doctest::Approx(0.9735009788392561).epsilon(1e-9));
  CHECK(analytics::chi_square_upper_tail(0.0, 3) == 1.0);
}

TEST_CASE("significance: two-proportion z-test") {
  auto r = analytics::two_proportion_z_test({30, 200}, {50, 200});
  CHECK(r.test == "two-proportion z-test");
  CHECK(r.statistic == doctest::Approx(-2.5));
  CHECK(r.p_value == doctest::Approx(0.012419330651552278).epsilon(1e-9));
  // Symmetric, and no variance means no evidence.
  CHECK(analytics::two_proportion_z_test({50, 200}, {30, 200}).statistic == doctest::Approx(2.5));
  CHECK(analytics::two_proportion_z_test({0, 100}, {0, 100}).p_value == 1.0);
  CHECK(analytics::two_proportion_z_test({100, 100}, {50, 50}).p_value == 1.0);
  CHECK(analytics::two_proportion_z_test({3, 10}, {0, 0}).p_value == 1.0);
}

TEST_CASE("significance: Fisher's exact test") {
  auto tea = analytics::fisher_exact_test({3, 4}, {1, 4});
  CHECK(tea.test == "fisher exact");
  CHECK(tea.p_value == doctest::Approx(34.0 / 70.0).epsilon(1e-9));
  CHECK(tea.statistic == doctest::Approx(16.0 / 70.0).epsilon(1e-9));
  CHECK(analytics::fisher_exact_test({1, 10}, {7, 10}).p_value == doctest::Approx(0.01976661109788045).epsilon(1e-9));
  CHECK(analytics::fisher_exact_test({7, 10}, {1, 10}).p_value == doctest::Approx(0.01976661109788045).epsilon(1e-9));
  CHECK(analytics::fisher_exact_test({2, 10}, {2, 10}).p_value == doctest::Approx(1.0));
}

TEST_CASE("significance: chi-square test of independence") {
  auto r = analytics::chi_square_test({{10, 100}, {20, 100}, {30, 100}});
  CHECK(r.test == "chi-square");
  CHECK(r.degrees_of_freedom == 2);
  CHECK(r.statistic == doctest::Approx(12.5));
  CHECK(r.p_value == doctest::Approx(0.0019304541362277093).epsilon(1e-9));
  auto four = analytics::chi_square_test({{10, 100}, {20, 100}, {30, 100}, {40, 100}});
  CHECK(four.degrees_of_freedom == 3);
  CHECK(four.statistic == doctest::Approx(26.666666666666668));
  CHECK(four.p_value == doctest::Approx(6.914913279310525e-06).epsilon(1e-6));
  // Empty groups are left out; no responses at all is no evidence.
  CHECK(analytics::chi_square_test({{10, 100}, {20, 100}, {0, 0}}).degrees_of_freedom == 1);
  CHECK(analytics::chi_square_test({{0, 100}, {0, 100}, {0, 100}}).p_value == 1.0);
}

TEST_CASE("significance: the test is chosen by the data's shape") {
  CHECK(analytics::compare_proportions({{30, 200}, {50, 200}}).test == "two-proportion z-test");
  // Expected successes 4 per group (< 5): the normal approximation is poor, Fisher's test instead.
  CHECK(analytics::compare_proportions({{1, 10}, {7, 10}}).test == "fisher exact");
  CHECK(analytics::compare_proportions({{1, 10}, {7, 10}}).p_value == doctest::Approx(0.01976661109788045).epsilon(1e-9));
  CHECK(analytics::compare_proportions({{10, 100}, {20, 100}, {30, 100}}).test == "chi-square");
}

TEST_CASE("A/B decision: best rate wins, ties go to the first variant, significance is recorded") {
  using campaigns::VariantNumbers;
  auto v = campaigns::decide_ab_test({{"a", 200, 30}, {"b", 200, 50}}, 0.95);
  CHECK(v.winner == "b");
  CHECK(v.significant);
  CHECK(v.test.p_value == doctest::Approx(0.012419330651552278).epsilon(1e-9));
  // The same numbers at 99%: still b (best point estimate), but not significant.
  auto strict = campaigns::decide_ab_test({{"a", 200, 30}, {"b", 200, 50}}, 0.99);
  CHECK(strict.winner == "b");
  CHECK_FALSE(strict.significant);
  // Equal rates (1/3 and 2/6): the first declared wins.
  auto tie = campaigns::decide_ab_test({{"x", 3, 1}, {"y", 6, 2}}, 0.95);
  CHECK(tie.winner == "x");
  CHECK_FALSE(tie.significant);
  // Nothing sent at all: the first variant, p = 1.
  auto none = campaigns::decide_ab_test({{"a", 0, 0}, {"b", 0, 0}}, 0.95);
  CHECK(none.winner == "a");
  CHECK(none.test.p_value == 1.0);
  // Three variants: chi-square, the middle one can win.
  auto three = campaigns::decide_ab_test({{"a", 100, 10}, {"b", 100, 30}, {"c", 100, 20}}, 0.95);
  CHECK(three.winner == "b");
  CHECK(three.test.test == "chi-square");
  CHECK(three.significant);
}
