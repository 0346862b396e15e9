// Parsing automation files: the trigger grammar, steps, exits, and errors with their places.
#include <doctest/doctest.h>

#include <algorithm>

#include "daemon/automation/automation_file.hpp"
#include "daemon/automation/automation_loader.hpp"
#include "tests/unit/campaigns/campaign_fixture.hpp"

using namespace campaignd;
using namespace campaignd::automation;

namespace {

std::vector<std::string> errors_of(const std::string& text) {
  auto r = parse_automation_text(text, "a.yaml");
  std::vector<std::string> out;
  if (!r)
    for (const auto& e : r.error()) out.push_back(e.to_string());
  return out;
}

bool has(const std::vector<std::string>& errors, const std::string& needle) {
  return std::any_of(errors.begin(), errors.end(), [&](const auto& e) { return e.find(needle) != std::string::npos; });
}

}  // namespace

TEST_CASE("the SPEC's automation file parses") {
  auto r = parse_automation_text(R"(name: welcome
trigger: subscribed        # a comment
condition: 'country = "CA"'
from: "Acme Store <hello@acme.example>"
steps:
  - after: 0s
    subject: "Welcome, {{first_name}}"
    template: welcome-1
  - after: 3d
    at: "09:30"
    subject: "Getting the most from Acme"
    template: welcome-2
exit_on: [purchased, unsubscribed, replied]
)",
                                 "campaigns/welcome.yaml");
  REQUIRE(r);
  CHECK(r->name == "welcome");
  CHECK(r->trigger.kind == TriggerKind::subscribed);
  CHECK(r->condition == std::optional<std::string>("country = \"CA\""));
  CHECK(r->condition_place.line == 3);
  CHECK(r->condition_place.col == 13);  // inside the quotes
  CHECK(r->from.address == "hello@acme.example");
  REQUIRE(r->steps.size() == 2);
  CHECK(r->steps[0].after_seconds == 0);
  CHECK(!r->steps[0].at_minute_of_day);
  CHECK(r->steps[1].after_seconds == 3 * 86400);
  CHECK(r->steps[1].at_minute_of_day == std::optional<int>(9 * 60 + 30));
  CHECK(r->steps[1].template_name == "welcome-2");
  CHECK(r->exit_on == std::set<std::string>{"purchased", "unsubscribed", "replied"});
  CHECK(r->reply_period_seconds == 7 * 86400);
  CHECK(r->step_campaign_name(1) == "welcome#2");
}

TEST_CASE("trigger grammar") {
  std::string error;
  auto t = parse_trigger("clicked", error);
  REQUIRE(t);
  CHECK(t->kind == TriggerKind::clicked);
  CHECK(t->arg.empty());
  t = parse_trigger("clicked:https://acme.example/a?b=c", error);
  REQUIRE(t);
  CHECK(t->arg == "https://acme.example/a?b=c");
  t = parse_trigger("tag_added:vip", error);
  REQUIRE(t);
  CHECK(t->kind == TriggerKind::tag_added);
  CHECK(t->arg == "vip");
  t = parse_trigger("joined_segment:engaged-buyers", error);
  REQUIRE(t);
  CHECK(t->arg == "engaged-buyers");
  t = parse_trigger("date:birthday", error);
  REQUIRE(t);
  CHECK(t->arg == "birthday");
  CHECK(t->offset_seconds == 0);
  t = parse_trigger("date:birthday-7d", error);
  REQUIRE(t);
  CHECK(t->arg == "birthday");
  CHECK(t->offset_seconds == -7 * 86400);
  t = parse_trigger("date:renewal-date+12h", error);
  REQUIRE(t);
  CHECK(t->arg == "renewal-date");
  CHECK(t->offset_seconds == 12 * 3600);
  t = parse_trigger("date:sign-up-date", error);  // '-date' is no duration: part of the name
  REQUIRE(t);
  CHECK(t->arg == "sign-up-date");
  CHECK(parse_trigger("confirmed", error)->kind == TriggerKind::subscribed);
  CHECK(parse_trigger("purchased", error)->kind == TriggerKind::purchased);

  CHECK(!parse_trigger("bought", error));
  CHECK(error.find("unknown trigger 'bought'") != std::string::npos);
  CHECK(!parse_trigger("tag_added", error));
  CHECK(!parse_trigger("tag_added:", error));
  CHECK(!parse_trigger("replied:x", error));
  CHECK(!parse_trigger("clicked:", error));
  CHECK(!parse_trigger("date:", error));
  CHECK(!parse_trigger("date:bad name", error));
}

TEST_CASE("malformed automation files: each error names its line and column") {
  CHECK(has(errors_of("trigger: [unclosed\n"), "a.yaml:"));
  CHECK(has(errors_of("- a list\n"), "a.yaml:1:1: an automation file must be a YAML mapping"));
  const std::string head = "trigger: subscribed\nfrom: \"A <a@acme.example>\"\n";
  const std::string step = "steps:\n  - after: 0s\n    subject: Hi\n    template: t\n";
  CHECK(errors_of(head + step).empty());
  CHECK(has(errors_of("from: \"A <a@acme.example>\"\n" + step), "a.yaml:1:1: missing required key 'trigger'"));
  CHECK(has(errors_of("trigger: subscribed\n" + step), "missing required key 'from'"));
  CHECK(has(errors_of(head), "missing required key 'steps'"));
  CHECK(has(errors_of("trigger: sometimes\nfrom: \"A <a@acme.example>\"\n" + step),
            "a.yaml:1:10: unknown trigger 'sometimes'"));
  CHECK(has(errors_of(head + "steps:\n  - after: soon\n    subject: Hi\n    template: t\n"),
            "a.yaml:4:12: after must be a duration"));
  CHECK(has(errors_of(head + "steps:\n  - after: 0s\n    at: \"25:00\"\n    subject: Hi\n    template: t\n"),
            "a.yaml:5:9: at must be a time of day"));
  CHECK(has(errors_of(head + "steps:\n  - after: 0s\n    template: t\n"), "a.yaml:4:5: step is missing required key 'subject'"));
  CHECK(has(errors_of(head + "steps:\n  - after: 0s\n    subject: Hi\n"), "step is missing required key 'template'"));
  CHECK(has(errors_of(head + "steps:\n  - after: 0s\n    subject: Hi\n    template: t\n    delay: 3\n"),
            "a.yaml:7:5: unknown step key 'delay'"));
  CHECK(has(errors_of(head + "steps: []\n"), "steps must be a list of at least one step"));
  CHECK(has(errors_of(head + "steps: [hello]\n"), "a step must be a mapping"));
  CHECK(has(errors_of(head + step + "exit_on: [purchased, bored]\n"), "a.yaml:7:22: unknown exit condition 'bored'"));
  CHECK(has(errors_of(head + step + "exit_on: {a: b}\n"), "exit_on must be a list"));
  CHECK(has(errors_of(head + step + "exit_on: [left_segment]\n"), "left_segment needs a condition"));
  CHECK(has(errors_of(head + step + "reply_period: forever\n"), "a.yaml:7:15: reply_period must be a duration"));
  CHECK(has(errors_of(head + step + "colour: blue\n"), "a.yaml:7:1: unknown key 'colour'"));
  CHECK(has(errors_of(head + step + "name: _builtin\n"), "name must be"));
  CHECK(has(errors_of(head + step + "name: 'a#b'\n"), "name must be"));
  CHECK(has(errors_of("trigger: subscribed\nfrom: not an address\n" + step), "a.yaml:2:7: from: not a valid address"));
  CHECK(has(errors_of(head + step + "tracking: maybe\n"), "tracking must be true or false"));
  CHECK(has(errors_of(head + step + "condition: ''\n"), "condition is empty"));
  CHECK(has(errors_of(head + step + "from: [a, b]\n"), "from must be a single value"));
  // Several problems: all reported in one pass.
  CHECK(errors_of("trigger: nope\nfrom: bad\nsteps: 3\n").size() == 3);
}

TEST_CASE("load_automation checks templates and the condition against the folders") {
  testing::CampaignFolders f;
  f.write_template("ok");
  f.write_template_file("no-unsub.txt.mustache", "Hello {{first_name}}\n");
  f.write_rule("buyers", "orders >= 2");
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(f.rules_dir(), rule_errors);
  REQUIRE(rules);
  auto path = f.write_campaign("a.yaml", R"(trigger: joined_segment:buyers
condition: 'country = "CA"'
from: "A <a@acme.example>"
steps:
  - {after: 0s, subject: "Hi {{first_name}}", template: ok}
)");
  auto ok = load_automation(path, f.templates_dir(), *rules, 0);
  REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().front().to_string()));
  CHECK(ok->step_templates.size() == 1);

  path = f.write_campaign("b.yaml", R"(trigger: joined_segment:nosuchrule
condition: 'country = = "CA"'
from: "A <a@acme.example>"
steps:
  - after: 0s
    subject: "Hi"
    template: no-unsub
  - after: 1d
    subject: "Hi"
    template: missing
)");
  auto bad = load_automation(path, f.templates_dir(), *rules, 0);
  REQUIRE(!bad);
  std::vector<std::string> errors;
  for (const auto& e : bad.error()) errors.push_back(e.to_string());
  CHECK(errors.size() == 4);
  CHECK(has(errors, "b.yaml:2:"));                      // the condition
  CHECK(has(errors, "b.yaml:1:10:"));                   // the rule name
  CHECK(has(errors, "b.yaml:7:15: template 'no-unsub' must show {{unsubscribe_url}}"));
  CHECK(has(errors, "b.yaml:10:15:"));                  // the missing template
}

TEST_CASE("find_automation_files picks the files with a trigger") {
  testing::CampaignFolders f;
  f.write_campaign("a.yaml", "trigger: subscribed\n");
  f.write_campaign("b.yaml", "name: campaign\nsubject: x\n");
  f.write_campaign("c.yml", "trigger: replied\n");
  f.write_campaign("d.yaml", "trigger: [broken\n");
  f.write_campaign("e.txt", "trigger: replied\n");
  auto files = find_automation_files(f.campaigns_dir());
  REQUIRE(files.size() == 2);
  CHECK(files[0].ends_with("a.yaml"));
  CHECK(files[1].ends_with("c.yml"));
}

#ifdef CAMPAIGND_SOURCE_DIR
TEST_CASE("the shipped example automations validate against the shipped templates") {
  std::string root = CAMPAIGND_SOURCE_DIR;
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(root + "/rules", rule_errors);
  REQUIRE(rules);
  for (const char* file : {"/examples/campaigns/welcome.yaml", "/examples/campaigns/autoresponder.yaml"}) {
    auto r = load_automation(root + file, root + "/templates", *rules, 0);
    CHECK_MESSAGE(r, file << ": " << (r ? "" : r.error().front().to_string()));
  }
}
#endif
