// campaigns/campaign_file: one campaign file into a Campaign, every problem with its place.
#include <doctest/doctest.h>

#include <string>
#include <variant>
#include <vector>

#include "daemon/campaigns/campaign_file.hpp"

using namespace campaignd;
using campaigns::Campaign;
using campaigns::parse_campaign_partial;
using campaigns::parse_campaign_text;

namespace {

const std::string kPath = "campaigns/spring-sale.yaml";

Campaign must_parse(const std::string& text, const std::string& path = kPath) {
  auto parsed = parse_campaign_text(text, path);
  if (!parsed) {
    for (const auto& e : parsed.error()) MESSAGE(e.to_string());
  }
  REQUIRE(parsed);
  REQUIRE(std::holds_alternative<Campaign>(*parsed));
  return std::get<Campaign>(*parsed);
}

// Every error of `text`, as "line:col: message".
std::vector<std::string> errors_of(const std::string& text) {
  auto parsed = parse_campaign_partial(text, kPath);
  std::vector<std::string> out;
  for (const auto& e : parsed.errors) {
    CHECK(e.place.file == kPath);
    out.push_back(std::to_string(e.place.line) + ":" + std::to_string(e.place.col) + ": " + e.message);
  }
  return out;
}

// The one error of `text`; fails the test when there are none or several.
std::string the_error(const std::string& text) {
  auto all = errors_of(text);
  CAPTURE(text);
  REQUIRE(all.size() == 1);
  return all.front();
}

const std::string kMinimal = "from: news@acme.example\nsubject: Hello\ntemplate: promo\n";

}  // namespace

TEST_CASE("campaign file: every key is read") {
  Campaign c = must_parse(R"(name: spring-sale-2026
from: "Acme Store <news@acme.example>"
reply_to: "Support <support@acme.example>"
subject: "{{first_name}}, 20% off this week"
template: spring-sale
segment: 'country = "CA" and orders >= 2'
schedule: 2026-12-01T10:00:00+01:00
throttle: 3000/h
topic: promotions
tracking: false
description: The big spring sale
)");
  CHECK(c.kind == campaigns::CampaignKind::marketing);
  CHECK(c.name == "spring-sale-2026");
  CHECK(c.file == kPath);
  CHECK(c.from.display_name == "Acme Store");
  CHECK(c.from.address == "news@acme.example");
  REQUIRE(c.reply_to);
  CHECK(c.reply_to->address == "support@acme.example");
  CHECK(c.reply_to->display_name == "Support");
  CHECK(c.subject == "{{first_name}}, 20% off this week");
  CHECK(c.template_name == "spring-sale");
  CHECK(c.template_place.file == kPath);
  CHECK(c.template_place.line == 5);
  CHECK(c.template_place.col == 11);
  CHECK(c.segment == "country = \"CA\" and orders >= 2");
  // The segment's place is its first character, inside the quotes.
  CHECK(c.segment_place.line == 6);
  CHECK(c.segment_place.col == 11);
  REQUIRE(c.schedule_at);
  CHECK(*c.schedule_at == 1796115600);  // 2026-12-01T09:00:00Z
  REQUIRE(c.throttle);
  CHECK(c.throttle->count == 3000);
  CHECK(c.throttle->period_seconds == 3600);
  REQUIRE(c.topic);
  CHECK(*c.topic == "promotions");
  CHECK_FALSE(c.track);
  CHECK(c.fingerprint.size() == 64);
}

TEST_CASE("campaign file: defaults, and the name defaults to the file's stem") {
  Campaign c = must_parse(kMinimal, "/srv/campaigns/autumn-promo.yaml");
  CHECK(c.name == "autumn-promo");
  CHECK(c.segment == "all");
  CHECK_FALSE(c.schedule_at);
  CHECK_FALSE(c.throttle);
  CHECK_FALSE(c.reply_to);
  CHECK_FALSE(c.topic);
  CHECK(c.track);
  CHECK(c.from.display_name.empty());
  CHECK(must_parse(kMinimal, "x/winter.yml").name == "winter");
  CHECK(must_parse(kMinimal + "schedule: now\n").schedule_at == std::nullopt);
  CHECK(must_parse(kMinimal + "schedule: NOW\n").schedule_at == std::nullopt);
  CHECK(must_parse(kMinimal + "schedule: 2026-03-01\n").schedule_at == 1772323200);
  CHECK(must_parse(kMinimal + "segment: all\n").segment_place.col == 10);
  CHECK(must_parse(kMinimal + "segment:   \"a = 1\"\n").segment_place.col == 13);
}

TEST_CASE("campaign file: the fingerprint tells an edit from a re-drop") {
  CHECK(must_parse(kMinimal).fingerprint == must_parse(kMinimal).fingerprint);
  CHECK(must_parse(kMinimal).fingerprint != must_parse(kMinimal + "# comment\n").fingerprint);
}

TEST_CASE("campaign file: tracking takes the usual booleans") {
  for (const char* yes : {"true", "True", "on", "yes", "YES"}) {
    CAPTURE(yes);
    CHECK(must_parse(kMinimal + "tracking: " + yes + "\n").track);
  }
  for (const char* no : {"false", "FALSE", "off", "no", "No"}) {
    CAPTURE(no);
    CHECK_FALSE(must_parse(kMinimal + "tracking: " + no + "\n").track);
  }
  CHECK(the_error(kMinimal + "tracking: maybe\n") == "4:11: tracking must be true or false");
  CHECK(the_error(kMinimal + "tracking: 1\n") == "4:11: tracking must be true or false");
}

TEST_CASE("campaign file: missing required keys are each reported") {
  auto errors = errors_of("name: x\n");
  CHECK(errors == std::vector<std::string>{"1:1: missing required key 'from'", "1:1: missing required key 'subject'",
                                           "1:1: missing required key 'template'"});
  CHECK(the_error("from: a@b.example\ntemplate: t\n") == "1:1: missing required key 'subject'");
  CHECK(the_error("subject: s\ntemplate: t\n") == "1:1: missing required key 'from'");
  CHECK(the_error("from: a@b.example\nsubject: s\n") == "1:1: missing required key 'template'");
}

TEST_CASE("campaign file: an unknown key names its line and column") {
  auto message = the_error(kMinimal + "colour: red\n");
  CHECK(message.starts_with("4:1: unknown key 'colour'"));
  CHECK(the_error("from: a@b.example\n  # note\nsubject: s\ntemplate: t\nsegement: all\n").starts_with(
      "5:1: unknown key 'segement'"));
  CHECK(the_error(kMinimal + "{ a: 1 }: 2\n").starts_with("4:1: unknown key ''"));
}

TEST_CASE("campaign file: bad addresses point at the value") {
  CHECK(the_error("subject: s\ntemplate: t\nfrom: not-an-address\n") ==
        "3:7: from: not a valid address: 'not-an-address'");
  CHECK(the_error("subject: s\ntemplate: t\nfrom: \"Acme <news@acme>\"\n") ==
        "3:7: from: not a valid address: 'Acme <news@acme>'");
  CHECK(the_error("subject: s\ntemplate: t\nfrom:    news@@acme.example\n") ==
        "3:10: from: not a valid address: 'news@@acme.example'");
  CHECK(the_error(kMinimal + "reply_to: support\n") == "4:11: reply_to: not a valid address: 'support'");
}

TEST_CASE("campaign file: bad schedules and throttles point at the value") {
  const std::string schedule_msg = "schedule must be `now` or an ISO-8601 time such as 2026-12-01T09:00:00Z";
  CHECK(the_error(kMinimal + "schedule: tomorrow\n") == "4:11: " + schedule_msg);
  CHECK(the_error(kMinimal + "schedule: 2026-02-30T09:00:00Z\n") == "4:11: " + schedule_msg);
  CHECK(the_error(kMinimal + "schedule: \"2026-12-01 25:00\"\n") == "4:11: " + schedule_msg);
  CHECK(the_error(kMinimal + "throttle: fast\n") == "4:11: throttle must be a rate such as 50/s or 1000/h");
  CHECK(the_error(kMinimal + "throttle: 50/0s\n") == "4:11: throttle must be a rate such as 50/s or 1000/h");
  auto c = must_parse(kMinimal + "throttle: 50/s\n");
  REQUIRE(c.throttle);
  CHECK(c.throttle->per_second() == doctest::Approx(50));
}

TEST_CASE("campaign file: names, subjects, segments and value shapes") {
  const std::string name_msg = "name must be 1-128 letters, digits, '-', '_' or '.', not starting with '_'";
  CHECK(the_error("name: _confirm\n" + kMinimal) == "1:7: " + name_msg);
  CHECK(the_error("name: two words\n" + kMinimal) == "1:7: " + name_msg);
  CHECK(the_error("name: a/b\n" + kMinimal) == "1:7: " + name_msg);
  CHECK(the_error("name: " + std::string(129, 'n') + "\n" + kMinimal) == "1:7: " + name_msg);
  CHECK(must_parse("name: " + std::string(128, 'n') + "\n" + kMinimal).name.size() == 128);
  CHECK(must_parse("name: v1.2_b-c\n" + kMinimal).name == "v1.2_b-c");
  CHECK(the_error("from: a@b.example\ntemplate: t\nsubject: \"  \"\n") == "3:10: subject is empty");
  CHECK(the_error(kMinimal + "segment: \"\"\n") == "4:10: segment is empty (use `all` for everyone)");
  auto shapes = errors_of("from: a@b.example\ntemplate: t\nsubject: [a, b]\n");
  REQUIRE_FALSE(shapes.empty());
  CHECK(shapes.front() == "3:10: subject must be a single value");
  CHECK(the_error(kMinimal + "segment:\n  a: 1\n") == "5:3: segment must be a single value");
}

TEST_CASE("campaign file: several problems in one file are all reported, and what parsed is kept") {
  auto parsed = parse_campaign_partial(
      "from: nobody\nsubject: Hi {{first_name}}\ntemplate: promo\nschedule: someday\nthrottle: x\nwhat: 1\n", kPath);
  CHECK(parsed.readable);
  REQUIRE(parsed.errors.size() == 4);
  CHECK(parsed.errors[0].place.line == 1);
  CHECK(parsed.errors[1].place.line == 4);
  CHECK(parsed.errors[2].place.line == 5);
  CHECK(parsed.errors[3].place.line == 6);
  REQUIRE(std::holds_alternative<Campaign>(parsed.file));
  const auto& c = std::get<Campaign>(parsed.file);
  CHECK(c.subject == "Hi {{first_name}}");
  CHECK(c.template_name == "promo");
  CHECK(c.template_place.line == 3);
  CHECK_FALSE(parse_campaign_text("from: nobody\nsubject: s\ntemplate: t\n", kPath));
}

TEST_CASE("campaign file: a `trigger:` file is an automation, not a campaign") {
  auto parsed = parse_campaign_text("name: welcome\ntrigger: subscribed\nsteps: []\n", "campaigns/w.yaml");
  REQUIRE(parsed);
  REQUIRE(std::holds_alternative<campaigns::AutomationFile>(*parsed));
  CHECK(std::get<campaigns::AutomationFile>(*parsed).name == "welcome");
  CHECK(std::get<campaigns::AutomationFile>(*parsed).file == "campaigns/w.yaml");
  auto unnamed = parse_campaign_text("trigger: replied\n", "campaigns/auto-reply.yaml");
  REQUIRE(unnamed);
  CHECK(std::get<campaigns::AutomationFile>(*unnamed).name == "auto-reply");
}

TEST_CASE("campaign file: invalid YAML and non-mappings are unreadable, with a place") {
  auto parsed = parse_campaign_partial("from: a@b.example\nsubject: b\n  template: c\n", kPath);
  CHECK_FALSE(parsed.readable);
  REQUIRE(parsed.errors.size() == 1);
  CHECK(parsed.errors[0].place.line == 3);
  CHECK(parsed.errors[0].place.col == 11);
  CHECK(parsed.errors[0].message == "illegal map value");

  parsed = parse_campaign_partial("from: a@b.example\nsubject: [unclosed\n", kPath);
  CHECK_FALSE(parsed.readable);
  REQUIRE(parsed.errors.size() == 1);
  CHECK(parsed.errors[0].place.line >= 2);

  for (const char* not_a_map : {"- a\n- b\n", "just some text\n", "", "42\n"}) {
    CAPTURE(not_a_map);
    parsed = parse_campaign_partial(not_a_map, kPath);
    CHECK_FALSE(parsed.readable);
    REQUIRE(parsed.errors.size() == 1);
    CHECK(parsed.errors[0].to_string() ==
          kPath + ":1:1: a campaign file must be a YAML mapping (key: value lines)");
  }
}

TEST_CASE("campaign file: reading from disk, and a file that is not there") {
  auto missing = campaigns::parse_campaign_file("/nonexistent/campaigns/x.yaml");
  REQUIRE_FALSE(missing);
  REQUIRE(missing.error().size() == 1);
  CHECK(missing.error()[0].message == "cannot read file");
  CHECK(missing.error()[0].place.file == "/nonexistent/campaigns/x.yaml");
}

TEST_CASE("campaign file: a required key with a wrong shape is not also called missing") {
  CHECK(errors_of("from: a@b.example\ntemplate: t\nsubject: [a, b]\n") ==
        std::vector<std::string>{"3:10: subject must be a single value"});
  CHECK(errors_of("from: a@b.example\nsubject: s\ntemplate:\n").size() == 1);
}
