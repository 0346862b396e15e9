// campaigns/campaign_file: the A/B and policy keys (variants, ab_test, exclude_unengaged,
// frequency_cap, send_time, cost, relay), and their errors with file:line:col.
#include <doctest/doctest.h>

#include <string>
#include <variant>
#include <vector>

#include "daemon/campaigns/campaign_file.hpp"

using namespace campaignd;
using campaigns::Campaign;

namespace {

const std::string kPath = "campaigns/ab.yaml";
const std::string kBase = "from: news@acme.example\nsubject: Hello\ntemplate: promo\n";

Campaign must_parse(const std::string& text) {
  auto parsed = campaigns::parse_campaign_text(text, kPath);
  if (!parsed)
    for (const auto& e : parsed.error()) MESSAGE(e.to_string());
  REQUIRE(parsed);
  REQUIRE(std::holds_alternative<Campaign>(*parsed));
  return std::get<Campaign>(*parsed);
}

std::vector<std::string> errors_of(const std::string& text) {
  auto parsed = campaigns::parse_campaign_partial(text, kPath);
  std::vector<std::string> out;
  for (const auto& e : parsed.errors) out.push_back(e.to_string());
  return out;
}

std::string the_error(const std::string& text) {
  auto all = errors_of(text);
  std::string listed;
  for (const auto& e : all) listed += e + "\n";
  CAPTURE(text);
  CAPTURE(listed);
  REQUIRE(all.size() == 1);
  return all.front();
}

const std::string kVariants =
    "variants:\n"
    "  - { name: a, subject: \"20% off, {{first_name}}\" }\n"
    "  - { name: b, subject: \"Your spring discount\", template: spring-sale-b }\n";

}  // namespace

TEST_CASE("campaign file: A/B variants and policies are read") {
  Campaign c = must_parse(kBase + kVariants +
                          "ab_test: { fraction: 0.2, wait: 4h, metric: clicks, confidence: 0.99 }\n"
                          "exclude_unengaged: 180d\n"
                          "frequency_cap: 3/7d\n"
                          "send_time: best\n"
                          "cost: 250.00\n"
                          "relay: ses\n");
  REQUIRE(c.variants.size() == 2);
  CHECK(c.variants[0].name == "a");
  CHECK(c.variants[0].subject == "20% off, {{first_name}}");
  CHECK_FALSE(c.variants[0].template_name);
  CHECK(c.variants[1].name == "b");
  CHECK(c.variants[1].template_name == "spring-sale-b");
  CHECK(c.variants[1].template_place.line == 6);
  REQUIRE(c.ab_test);
  CHECK(c.ab_test->fraction == doctest::Approx(0.2));
  CHECK(c.ab_test->wait_seconds == 4 * 3600);
  CHECK(c.ab_test->metric == campaigns::AbMetric::clicks);
  CHECK(c.ab_test->confidence == doctest::Approx(0.99));
  CHECK(c.exclude_unengaged_seconds == 180 * 86400);
  REQUIRE(c.frequency_cap);
  CHECK(c.frequency_cap->max == 3);
  CHECK(c.frequency_cap->period_seconds == 7 * 86400);
  CHECK(c.frequency_cap->text == "3/7d");
  CHECK(c.send_time == campaigns::SendTime::best);
  CHECK(c.cost == doctest::Approx(250.0));
  CHECK(c.relay == "ses");
}

TEST_CASE("campaign file: without the new keys nothing changes") {
  Campaign c = must_parse(kBase);
  CHECK(c.variants.empty());
  CHECK_FALSE(c.ab_test);
  CHECK_FALSE(c.exclude_unengaged_seconds);
  CHECK_FALSE(c.frequency_cap);
  CHECK(c.send_time == campaigns::SendTime::as_scheduled);
  CHECK_FALSE(c.cost);
  CHECK_FALSE(c.relay);
}

TEST_CASE("campaign file: ab_test defaults and block form") {
  Campaign c = must_parse(kBase +
                          "variants:\n"
                          "  - name: first\n"
                          "    template: promo-2\n"
                          "  - name: second\n"
                          "    subject: Other\n"
                          "  - name: third\n"
                          "    subject: Third\n"
                          "ab_test:\n"
                          "  wait: 30m\n"
                          "  metric: Replies\n");
  CHECK(c.variants.size() == 3);
  REQUIRE(c.ab_test);
  CHECK(c.ab_test->fraction == doctest::Approx(0.2));
  CHECK(c.ab_test->confidence == doctest::Approx(0.95));
  CHECK(c.ab_test->metric == campaigns::AbMetric::replies);
  CHECK(c.ab_test->wait_seconds == 1800);
  for (auto [text, metric] : {std::pair{"opens", campaigns::AbMetric::opens},
                              std::pair{"conversions", campaigns::AbMetric::conversions}}) {
    Campaign m = must_parse(kBase + kVariants + "ab_test: { wait: 1h, metric: " + text + " }\n");
    CHECK(m.ab_test->metric == metric);
  }
}

TEST_CASE("campaign file: malformed A/B tests are placed") {
  const std::string ab = "ab_test: { fraction: 0.2, wait: 4h, metric: clicks }\n";
  // Line 4 is `variants:`, 5 and 6 its entries, 7 `ab_test:`.
  CHECK(the_error(kBase + kVariants + "ab_test: { fraction: 0.2, wait: 4h, metric: likes }\n") ==
        "campaigns/ab.yaml:7:45: unknown ab_test metric 'likes' (known: opens, clicks, replies, conversions)");
  for (const char* fraction : {"0", "1", "1.5", "-0.1", "abc", "20%"}) {
    auto e = the_error(kBase + kVariants + "ab_test: { fraction: " + fraction + ", wait: 4h, metric: clicks }\n");
    CHECK(e.starts_with("campaigns/ab.yaml:7:22: ab_test fraction must be a number between 0 and 1"));
  }
  for (const char* wait : {"0s", "-4h", "4x", "soon", "\"\""}) {
    auto e = the_error(kBase + kVariants + "ab_test: { wait: " + wait + ", metric: clicks }\n");
    CHECK(e.starts_with("campaigns/ab.yaml:7:18: ab_test wait must be a duration"));
  }
  CHECK(the_error(kBase + kVariants + "ab_test: { wait: 1h, metric: clicks, confidence: 95 }\n")
            .starts_with("campaigns/ab.yaml:7:50: ab_test confidence must be a number between 0.5 and 1"));
  CHECK(the_error(kBase + kVariants + "ab_test: { wait: 1h, metric: clicks, sample: 3 }\n") ==
        "campaigns/ab.yaml:7:38: unknown ab_test key 'sample' (known: fraction, wait, metric, confidence)");
  CHECK(the_error(kBase + kVariants + "ab_test: { metric: clicks }\n") ==
        "campaigns/ab.yaml:7:10: ab_test needs a wait (e.g. wait: 4h)");
  CHECK(the_error(kBase + kVariants + "ab_test: { wait: 2h }\n") ==
        "campaigns/ab.yaml:7:10: ab_test needs a metric (opens, clicks, replies or conversions)");
  CHECK(the_error(kBase + kVariants + "ab_test: 20%\n").starts_with("campaigns/ab.yaml:7:10: ab_test must be a mapping"));

  // One variant only.
  CHECK(the_error(kBase + "variants:\n  - { name: a, subject: A }\n" + ab) ==
        "campaigns/ab.yaml:5:3: an A/B test needs at least two variants");
  // Duplicate names: the second is the error, and it says where the first is.
  CHECK(the_error(kBase + "variants:\n  - { name: a, subject: A }\n  - { name: a, subject: B }\n" + ab) ==
        "campaigns/ab.yaml:6:13: duplicate variant name 'a' (first used on line 5)");
  CHECK(the_error(kBase + "variants:\n  - { name: a, subject: A }\n  - { name: 'b c', subject: B }\n" + ab) ==
        "campaigns/ab.yaml:6:13: variant name must be 1-64 letters, digits, '-', '_' or '.'");
  CHECK(the_error(kBase + "variants:\n  - { name: a, subject: A }\n  - { subject: B }\n" + ab) ==
        "campaigns/ab.yaml:6:5: a variant needs a name");
  CHECK(the_error(kBase + "variants:\n  - { name: a, subject: A }\n  - { name: b }\n" + ab) ==
        "campaigns/ab.yaml:6:5: variant 'b' must set a subject and/or a template (else it is the campaign itself)");
  CHECK(the_error(kBase + "variants:\n  - { name: a, subject: A }\n  - { name: b, from: x@y.z }\n" + ab) ==
        "campaigns/ab.yaml:6:16: unknown variant key 'from' (known: name, subject, template)");
  CHECK(the_error(kBase + "variants:\n  - { name: a, subject: A }\n  - b\n" + ab) ==
        "campaigns/ab.yaml:6:5: a variant must be a mapping with name and subject and/or template");
  CHECK(the_error(kBase + "variants: a, b\n" + ab).starts_with("campaigns/ab.yaml:4:11: variants must be a list"));
  // One key without the other.
  CHECK(the_error(kBase + kVariants) ==
        "campaigns/ab.yaml:5:3: variants need an ab_test: { fraction: 0.2, wait: 4h, metric: clicks }");
  CHECK(the_error(kBase + ab) == "campaigns/ab.yaml:4:10: ab_test needs two or more variants");
}

TEST_CASE("campaign file: malformed policies are placed") {
  for (const char* cap : {"3", "3/", "/7d", "0/7d", "-1/7d", "three/7d", "3/0d", "3/7x", "3.5/7d", "3/7d/1"}) {
    CAPTURE(cap);
    CHECK(the_error(kBase + "frequency_cap: \"" + cap + "\"\n") ==
          "campaigns/ab.yaml:4:16: frequency_cap must read K/PERIOD, at most K campaign emails per period, e.g. 3/7d");
  }
  CHECK(must_parse(kBase + "frequency_cap: 1/24h\n").frequency_cap->period_seconds == 86400);
  for (const char* window : {"0d", "180", "180x", "forever", "-3d"}) {
    CAPTURE(window);
    auto errors = errors_of(kBase + "exclude_unengaged: " + window + "\n");
    // "180" is bare seconds: valid. The rest is not.
    if (std::string(window) == "180") {
      CHECK(errors.empty());
    } else {
      REQUIRE(errors.size() == 1);
      CHECK(errors[0] == "campaigns/ab.yaml:4:20: exclude_unengaged must be a duration such as 180d");
    }
  }
  CHECK(the_error(kBase + "send_time: morning\n") ==
        "campaigns/ab.yaml:4:12: send_time must be `best` (each contact's usual open hour) or `scheduled`");
  CHECK(must_parse(kBase + "send_time: scheduled\n").send_time == campaigns::SendTime::as_scheduled);
  CHECK(the_error(kBase + "cost: $250\n") == "campaigns/ab.yaml:4:7: cost must be a number of at least 0, e.g. 250.00");
  CHECK(the_error(kBase + "cost: -1\n") == "campaigns/ab.yaml:4:7: cost must be a number of at least 0, e.g. 250.00");
  CHECK(the_error(kBase + "cost: [1]\n") == "campaigns/ab.yaml:4:7: cost must be a single value");
  CHECK(the_error(kBase + "relay: \"\"\n") ==
        "campaigns/ab.yaml:4:8: relay must name a configured relay: letters, digits, '-', '_' or '.'");
  CHECK(the_error(kBase + "relay: my relay\n") ==
        "campaigns/ab.yaml:4:8: relay must name a configured relay: letters, digits, '-', '_' or '.'");
  CHECK(must_parse(kBase + "relay: ses-eu_1\n").relay == "ses-eu_1");
}
