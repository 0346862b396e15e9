// The statistics behind A/B decisions. Special functions follow the textbook series and
// continued-fraction forms (Numerical Recipes, 3rd ed., 6.2), accurate to ~1e-12 here.
#include "daemon/analytics/significance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace campaignd::analytics {

namespace {

constexpr double kEpsilon = 1e-15;
constexpr int kMaxIterations = 1000;

// P(a, x) by its series; converges fast for x < a + 1.
double lower_gamma_series(double a, double x) {
  double term = 1.0 / a, sum = term;
  for (int n = 1; n < kMaxIterations; ++n) {
    term *= x / (a + n);
    sum += term;
    if (std::fabs(term) < std::fabs(sum) * kEpsilon) break;
  }
  return sum * std::exp(-x + a * std::log(x) - std::lgamma(a));
}

// Q(a, x) by its continued fraction (modified Lentz); for x >= a + 1.
double upper_gamma_fraction(double a, double x) {
  constexpr double tiny = std::numeric_limits<double>::min() / kEpsilon;
  double b = x + 1.0 - a, c = 1.0 / tiny, d = 1.0 / b, h = d;
  for (int i = 1; i < kMaxIterations; ++i) {
    double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::fabs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1.0 / d;
    double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1.0) < kEpsilon) break;
  }
  return std::exp(-x + a * std::log(x) - std::lgamma(a)) * h;
}

double regularized_upper_gamma(double a, double x) {
  if (x <= 0.0) return 1.0;
  if (x < a + 1.0) return 1.0 - lower_gamma_series(a, x);
  return upper_gamma_fraction(a, x);
}

double log_choose(std::int64_t n, std::int64_t k) {
  return std::lgamma(static_cast<double>(n) + 1) - std::lgamma(static_cast<double>(k) + 1) -
         std::lgamma(static_cast<double>(n - k) + 1);
}

}  // namespace

double normal_upper_tail(double z) { return 0.5 * std::erfc(z / std::sqrt(2.0)); }

double chi_square_upper_tail(double x, double df) {
  if (df <= 0) return 1.0;
  return regularized_upper_gamma(df / 2.0, x / 2.0);
}

TestResult two_proportion_z_test(Proportion a, Proportion b) {
  TestResult r{"two-proportion z-test", 0.0, 1.0, 0};
  if (a.trials <= 0 || b.trials <= 0) return r;
  double n1 = static_cast<double>(a.trials), n2 = static_cast<double>(b.trials);
  double p1 = static_cast<double>(a.successes) / n1, p2 = static_cast<double>(b.successes) / n2;
  double pooled = static_cast<double>(a.successes + b.successes) / (n1 + n2);
  double se = std::sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2));
  if (se <= 0.0) return r;
  r.statistic = (p1 - p2) / se;
  r.p_value = std::min(1.0, 2.0 * normal_upper_tail(std::fabs(r.statistic)));
  return r;
}

TestResult fisher_exact_test(Proportion a, Proportion b) {
  TestResult r{"fisher exact", 1.0, 1.0, 0};
  if (a.trials <= 0 || b.trials <= 0) return r;
  // Margins: row totals n1, n2; column total k successes of n.
  std::int64_t n1 = a.trials, n = a.trials + b.trials, k = a.successes + b.successes;
  std::int64_t lo = std::max<std::int64_t>(0, n1 - (n - k)), hi = std::min(k, n1);
  double log_total = log_choose(n, n1);
  auto probability = [&](std::int64_t x) { return std::exp(log_choose(k, x) + log_choose(n - k, n1 - x) - log_total); };
  double observed = probability(a.successes);
  // Relative slack so tables equally likely as the observed one are not lost to rounding.
  double limit = observed * (1.0 + 1e-7);
  double p = 0.0;
  for (std::int64_t x = lo; x <= hi; ++x)
    if (double px = probability(x); px <= limit) p += px;
  r.statistic = observed;
  r.p_value = std::min(1.0, p);
  return r;
}

TestResult chi_square_test(const std::vector<Proportion>& groups) {
  TestResult r{"chi-square", 0.0, 1.0, 0};
  std::int64_t successes = 0, trials = 0, used = 0;
  for (const auto& g : groups) {
    if (g.trials <= 0) continue;
    successes += g.successes;
    trials += g.trials;
    ++used;
  }
  if (used < 2) return r;
  r.degrees_of_freedom = static_cast<int>(used - 1);
  if (successes == 0 || successes == trials) return r;  // one column is empty: no evidence either way
  double rate = static_cast<double>(successes) / static_cast<double>(trials);
  double chi = 0.0;
  for (const auto& g : groups) {
    if (g.trials <= 0) continue;
    double n = static_cast<double>(g.trials);
    double expected_yes = n * rate, expected_no = n * (1.0 - rate);
    double yes = static_cast<double>(g.successes), no = n - yes;
    chi += (yes - expected_yes) * (yes - expected_yes) / expected_yes + (no - expected_no) * (no - expected_no) / expected_no;
  }
  r.statistic = chi;
  r.p_value = chi_square_upper_tail(chi, r.degrees_of_freedom);
  return r;
}

TestResult compare_proportions(const std::vector<Proportion>& groups) {
  if (groups.size() != 2) return chi_square_test(groups);
  const Proportion& a = groups[0];
  const Proportion& b = groups[1];
  if (a.trials <= 0 || b.trials <= 0) return two_proportion_z_test(a, b);
  double n = static_cast<double>(a.trials + b.trials);
  double successes = static_cast<double>(a.successes + b.successes);
  double smallest_expected = std::numeric_limits<double>::max();
  for (const auto& g : groups) {
    double share = static_cast<double>(g.trials) / n;
    smallest_expected = std::min({smallest_expected, share * successes, share * (n - successes)});
  }
  if (smallest_expected < 5.0) return fisher_exact_test(a, b);
  return two_proportion_z_test(a, b);
}

}  // namespace campaignd::analytics
