// The automation engine against a real store, with time driven by a ManualClock.
#include <doctest/doctest.h>

#include "daemon/automation/automation_engine.hpp"
#include "tests/unit/automation/automation_fixture.hpp"

using campaignd::testing::AutomationFixture;
using campaignd::testing::kAutoReply;
using campaignd::testing::kDrip;

namespace {

std::string step_of(AutomationFixture& f, std::int64_t contact) {
  return campaignd::testing::query_text(
      f.db(), "SELECT state || ':' || step FROM enrollments WHERE contact_id = " + std::to_string(contact) +
                  " ORDER BY id DESC LIMIT 1");
}

}  // namespace

TEST_CASE("a subscribed event enrols the contact and the drip's steps are queued in order, each when due") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  auto ann = f.add_contact("ann@example.com");
  f.add_event("subscribed", ann);
  CHECK(f.tick() > 0);
  auto enrollment = f.count("SELECT id FROM enrollments WHERE contact_id = " + std::to_string(ann));
  // Step 1 (after 0s) at once, with occurrence = the enrollment id, on the step's campaign row.
  CHECK(f.sends_for(ann) == 1);
  CHECK(f.count("SELECT occurrence FROM sends WHERE contact_id = " + std::to_string(ann)) == enrollment);
  CHECK(campaignd::testing::query_text(
            f.db(), "SELECT c.name FROM sends s JOIN campaigns c ON c.id = s.campaign_id") == "drip#1");
  CHECK(campaignd::testing::query_text(f.db(), "SELECT state FROM campaigns WHERE name = 'drip#2'") == "running");
  CHECK(step_of(f, ann) == "active:1");

  f.clock.advance_seconds(3 * 86400 - 10);
  f.tick();
  CHECK(f.sends_for(ann) == 1);  // not yet
  f.clock.advance_seconds(10);
  f.tick();
  CHECK(f.sends_for(ann) == 2);
  f.tick();
  CHECK(f.sends_for(ann) == 2);  // once only
  f.clock.advance_seconds(3600);
  f.tick();
  CHECK(f.sends_for(ann) == 3);
  CHECK(step_of(f, ann) == "completed:3");
  CHECK(f.count("SELECT COUNT(*) FROM sends WHERE context IS NOT NULL") == 0);

  auto status = f.engine->status();
  REQUIRE(status.size() == 1);
  CHECK(status[0]["name"] == "drip");
  CHECK(status[0]["enrolled"] == 1);
  CHECK(status[0]["completed"] == 1);
  CHECK(status[0]["active"] == 0);
  REQUIRE(status[0]["steps"].size() == 3);
  CHECK(status[0]["steps"][1]["campaign"] == "drip#2");
  CHECK(status[0]["steps"][1]["queued"] == 1);
  CHECK(status[0]["steps"][1]["after_s"] == 3 * 86400);
  // Every step campaign is offered to the catalog, by its campaigns.id.
  auto prepared = f.engine->prepared();
  CHECK(prepared.size() == 3);
  for (const auto& [id, p] : prepared) CHECK(p->campaign.name.starts_with("drip#"));
}

TEST_CASE("a restart after the due time sends the step exactly once") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  auto ann = f.add_contact("ann@example.com");
  f.add_event("subscribed", ann);
  f.tick();
  CHECK(f.sends_for(ann) == 1);
  // The daemon is down for a week: both remaining steps' times pass.
  f.reopen();
  f.clock.advance_seconds(7 * 86400);
  f.tick();
  CHECK(f.sends_for(ann) == 2);  // step 2 now; step 3 an hour after it, not in a burst
  f.reopen();
  f.tick();
  CHECK(f.sends_for(ann) == 2);
  f.clock.advance_seconds(3600);
  f.reopen();
  f.tick();
  f.tick();
  CHECK(f.sends_for(ann) == 3);
  // A restart never replays events: the cursor is durable.
  CHECK(f.count("SELECT COUNT(*) FROM enrollments") == 1);
}

TEST_CASE("the condition filters who enters") {
  AutomationFixture f;
  std::string text = kDrip;
  text.insert(text.find("from:"), "condition: 'country = \"CA\"'\n");
  f.add_automation("drip.yaml", text);
  REQUIRE(f.reload().empty());
  auto ca = f.add_contact("ca@example.com", {{"country", "CA"}});
  auto us = f.add_contact("us@example.com", {{"country", "US"}});
  f.add_event("subscribed", ca);
  f.add_event("subscribed", us);
  f.tick();
  CHECK(f.sends_for(ca) == 1);
  CHECK(f.sends_for(us) == 0);
  CHECK(f.count("SELECT COUNT(*) FROM enrollments WHERE contact_id = " + std::to_string(us)) == 0);
}

TEST_CASE("a contact is in one automation only once at a time, and may come back after finishing") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  auto ann = f.add_contact("ann@example.com");
  f.add_event("subscribed", ann);
  f.add_event("subscribed", ann);
  f.tick();
  f.add_event("subscribed", ann);
  f.tick();
  CHECK(f.count("SELECT COUNT(*) FROM enrollments") == 1);
  CHECK(f.sends_for(ann) == 1);
  f.clock.advance_seconds(4 * 86400);
  f.tick();
  f.clock.advance_seconds(3600);
  f.tick();
  CHECK(step_of(f, ann) == "completed:3");
  f.add_event("subscribed", ann);
  f.tick();
  CHECK(f.count("SELECT COUNT(*) FROM enrollments") == 2);
  // The second enrollment gets step 1 again: a new occurrence of the same step campaign.
  CHECK(f.count("SELECT COUNT(*) FROM sends s JOIN campaigns c ON c.id = s.campaign_id WHERE c.name = 'drip#1'") == 2);
}

TEST_CASE("exit_on purchase or reply stops further steps; an unsubscribe always does") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  auto buyer = f.add_contact("buyer@example.com");
  auto replier = f.add_contact("replier@example.com");
  auto leaver = f.add_contact("leaver@example.com");
  auto opener = f.add_contact("opener@example.com");
  for (auto c : {buyer, replier, leaver, opener}) f.add_event("subscribed", c);
  f.tick();
  f.add_event("purchase", buyer);
  f.add_event("replied", replier, {{"subject", "Re: Welcome"}});
  f.add_event("unsubscribed", leaver);
  f.add_event("opened", opener);  // not in exit_on
  f.tick();
  f.clock.advance_seconds(5 * 86400);
  f.tick();
  f.clock.advance_seconds(3600);
  f.tick();
  CHECK(step_of(f, buyer) == "exited:1");
  CHECK(campaignd::testing::query_text(f.db(), "SELECT exit_reason FROM enrollments WHERE contact_id = " +
                                                   std::to_string(buyer)) == "purchased");
  CHECK(step_of(f, replier) == "exited:1");
  CHECK(step_of(f, leaver) == "exited:1");
  for (auto c : {buyer, replier, leaver}) CHECK(f.sends_for(c) == 1);
  CHECK(f.sends_for(opener) == 3);
  auto status = f.engine->status();
  CHECK(status[0]["exited"] == 3);
  CHECK(status[0]["exit_reasons"]["unsubscribed"] == 1);
}

TEST_CASE("a contact who is no longer subscribed at a step's time leaves the automation") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  auto ann = f.add_contact("ann@example.com");
  f.add_event("subscribed", ann);
  f.tick();
  f.exec("UPDATE contacts SET status = 'bounced'");
  f.clock.advance_seconds(3 * 86400);
  f.tick();
  CHECK(step_of(f, ann) == "exited:1");
  CHECK(f.sends_for(ann) == 1);
}

TEST_CASE("machine opens and clicks never trigger; human ones do; our own mail's do not") {
  AutomationFixture f;
  f.add_automation("opened.yaml", R"(name: on-open
trigger: opened
from: "Acme <hello@acme.example>"
steps: [{after: 1h, subject: "Hi", template: step-1}]
)");
  f.add_automation("clicked.yaml", R"(name: on-click
trigger: clicked:https://acme.example/shoes
from: "Acme <hello@acme.example>"
steps: [{after: 0s, subject: "Shoes", template: step-2}]
)");
  REQUIRE(f.reload().empty());
  auto bot = f.add_contact("bot@example.com");
  auto human = f.add_contact("human@example.com");
  auto other = f.add_contact("other@example.com");
  f.add_event("opened", bot, {}, true);
  f.add_event("clicked", bot, {{"url", "https://acme.example/shoes"}}, true);
  f.add_event("opened", human);
  f.add_event("clicked", human, {{"url", "https://acme.example/shoes"}});
  f.add_event("clicked", other, {{"url", "https://acme.example/hats"}});
  f.tick();
  CHECK(f.count("SELECT COUNT(*) FROM enrollments WHERE contact_id = " + std::to_string(bot)) == 0);
  CHECK(f.count("SELECT COUNT(*) FROM enrollments WHERE contact_id = " + std::to_string(human)) == 2);
  CHECK(f.count("SELECT COUNT(*) FROM enrollments WHERE contact_id = " + std::to_string(other)) == 0);
  // Opening the automation's own mail does not enrol the reader again.
  f.clock.advance_seconds(3600);
  f.tick();
  auto own = f.count("SELECT id FROM campaigns WHERE name = 'on-open#1'");
  f.add_event("opened", human, {}, false, own);
  f.tick();
  CHECK(f.count("SELECT COUNT(*) FROM enrollments WHERE automation = 'on-open'") == 1);
}

TEST_CASE("autoresponder: threading context, RFC 3834 refusals, one reply per sender per period") {
  AutomationFixture f;
  f.add_automation("responder.yaml", kAutoReply);
  REQUIRE(f.reload().empty());
  auto ann = f.add_contact("ann@example.com");
  f.add_event("replied", ann,
              {{"from", "Ann <ann@example.com>"},
               {"subject", "Question about my order"},
               {"message_id", "<q1@mail.example.com>"},
               {"references", "<c1@acme.example>"}});
  f.tick();
  REQUIRE(f.sends_for(ann) == 1);
  auto context = nlohmann::json::parse(
      campaignd::testing::query_text(f.db(), "SELECT context FROM sends WHERE contact_id = " + std::to_string(ann)));
  CHECK(context["in_reply_to"] == "<q1@mail.example.com>");
  CHECK(context["references"] == "<c1@acme.example> <q1@mail.example.com>");
  CHECK(context["subject"] == "Re: Question about my order");
  CHECK(context["auto_submitted"] == "auto-replied");
  CHECK(f.count("SELECT COUNT(*) FROM autoreplies WHERE sender = 'ann@example.com' AND automation = 'responder'") == 1);

  // A second reply in the period: no second answer.
  f.clock.advance_seconds(86400);
  f.add_event("replied", ann, {{"from", "ann@example.com"}, {"subject", "Re: We got your message"}});
  f.tick();
  CHECK(f.sends_for(ann) == 1);
  // After the period, an answer again.
  f.clock.advance_seconds(7 * 86400);
  f.add_event("replied", ann, {{"from", "ann@example.com"}, {"subject", "Another question"}});
  f.tick();
  CHECK(f.sends_for(ann) == 2);

  // Automatic, list and system mail is never answered.
  auto bob = f.add_contact("bob@example.com");
  f.add_event("replied", bob, {{"from", "bob@example.com"}, {"auto_submitted", "auto-generated"}});
  f.add_event("replied", bob, {{"from", "bob@example.com"}, {"precedence", "bulk"}});
  f.add_event("replied", bob, {{"from", "bob@example.com"}, {"list", true}});
  f.add_event("replied", bob, {{"from", "bob@example.com"}, {"return_path", "<>"}});
  f.add_event("auto_replied", bob, {{"from", "bob@example.com"}});
  auto daemon = f.add_contact("mailer-daemon@example.com");
  f.add_event("replied", daemon, {{"from", "MAILER-DAEMON@example.com"}});
  auto us = f.add_contact("news@acme.example");
  f.add_event("replied", us, {{"from", "news@acme.example"}});
  auto support = f.add_contact("support@acme.example");
  f.add_event("replied", support, {{"from", "support@acme.example"}});
  f.tick();
  for (auto c : {bob, daemon, us, support}) CHECK(f.sends_for(c) == 0);
  CHECK(f.count("SELECT COUNT(*) FROM autoreplies") == 1);
}

TEST_CASE("two autoresponders answering each other stop after one message each") {
  // Ours answers the peer's first mail. The peer's robot then answers our answer; a compliant
  // one marks it Auto-Submitted (the inbound service records that as auto_replied), a careless
  // one does not: neither gets a second answer from us.
  for (bool careless : {false, true}) {
    CAPTURE(careless);
    AutomationFixture f;
    f.add_automation("responder.yaml", kAutoReply);
    REQUIRE(f.reload().empty());
    auto peer = f.add_contact("robot@peer.example");
    f.add_event("replied", peer, {{"from", "robot@peer.example"}, {"subject", "Hello"}, {"message_id", "<p1@peer>"}});
    f.tick();
    CHECK(f.sends_for(peer) == 1);
    for (int round = 0; round < 5; ++round) {
      f.clock.advance_seconds(60);
      if (careless)
        f.add_event("replied", peer, {{"from", "robot@peer.example"}, {"subject", "Re: We got your message"}});
      else
        f.add_event("auto_replied", peer, {{"from", "robot@peer.example"}, {"auto_reason", "Auto-Submitted: auto-replied"}});
      f.tick();
    }
    CHECK(f.sends_for(peer) == 1);
  }
}

TEST_CASE("the cursor never processes an event twice, and a new automation ignores older events") {
  AutomationFixture f;
  auto ann = f.add_contact("ann@example.com");
  f.add_event("subscribed", ann);  // before the automation exists
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  f.tick();
  CHECK(f.count("SELECT COUNT(*) FROM enrollments") == 0);
  auto bob = f.add_contact("bob@example.com");
  auto last = f.add_event("subscribed", bob);
  f.tick();
  CHECK(f.count("SELECT event_id FROM automation_cursor WHERE name = 'drip'") == last);
  // Bob finishes; replaying the cursor's events would enrol him again.
  f.clock.advance_seconds(5 * 86400);
  f.tick();
  f.clock.advance_seconds(3600);
  f.tick();
  CHECK(step_of(f, bob) == "completed:3");
  f.reopen();
  f.tick();
  CHECK(f.count("SELECT COUNT(*) FROM enrollments WHERE contact_id = " + std::to_string(bob)) == 1);
}

TEST_CASE("events are read in batches, oldest first") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  for (int i = 0; i < 1200; ++i) f.add_event("subscribed", f.add_contact("c" + std::to_string(i) + "@example.com"));
  f.tick();
  CHECK(f.count("SELECT COUNT(*) FROM enrollments") == 1200);
  CHECK(f.count("SELECT COUNT(*) FROM sends") == 1200);
}

TEST_CASE("old events (an import of past purchases) do not trigger") {
  AutomationFixture f;
  f.add_automation("buy.yaml", R"(name: thanks
trigger: purchased
from: "Acme <hello@acme.example>"
steps: [{after: 0s, subject: "Thanks", template: step-1}]
)");
  REQUIRE(f.reload().empty());
  auto ann = f.add_contact("ann@example.com");
  auto id = f.add_event("purchase", ann);
  f.exec("UPDATE events SET at = at - 400 * 86400 WHERE id = " + std::to_string(id));
  auto bob = f.add_contact("bob@example.com");
  f.add_event("purchase", bob);
  f.tick();
  CHECK(f.sends_for(ann) == 0);
  CHECK(f.sends_for(bob) == 1);
}

TEST_CASE("joined_segment and tag_added: members at start are not enrolled, newcomers are, leavers exit") {
  AutomationFixture f;
  f.folders.write_rule("vip", "orders >= 3");
  f.add_automation("vip.yaml", R"(name: vip
trigger: joined_segment:vip
from: "Acme <hello@acme.example>"
steps:
  - {after: 0s, subject: "Welcome to VIP", template: step-1}
  - {after: 2d, subject: "VIP perks", template: step-2}
exit_on: [left_segment]
)");
  f.add_automation("tagged.yaml", R"(name: tagged
trigger: tag_added:gardener
from: "Acme <hello@acme.example>"
steps: [{after: 0s, subject: "Hi gardener", template: step-3}]
)");
  auto old_vip = f.add_contact("old@example.com", {{"orders", 5}});
  REQUIRE(f.reload().empty());
  f.tick();
  CHECK(f.sends_for(old_vip) == 0);
  auto newcomer = f.add_contact("new@example.com", {{"orders", 1}});
  f.clock.advance_seconds(61);
  f.tick();
  CHECK(f.sends_for(newcomer) == 0);
  f.exec("UPDATE contacts SET attrs = json_set(attrs, '$.orders', 3) WHERE id = " + std::to_string(newcomer),
         "UPDATE contacts SET attrs = attrs || '{\"orders\": 3}' WHERE id = " + std::to_string(newcomer));
  f.exec("INSERT INTO contact_tags (contact_id, tag) VALUES (" + std::to_string(newcomer) + ", 'gardener')");
  f.tick();
  CHECK(f.sends_for(newcomer) == 0);  // only evaluated once a minute
  f.clock.advance_seconds(60);
  f.tick();
  CHECK(f.sends_for(newcomer) == 2);  // vip#1 and tagged#1
  f.exec("UPDATE contacts SET attrs = json_set(attrs, '$.orders', 0) WHERE id = " + std::to_string(newcomer),
         "UPDATE contacts SET attrs = attrs || '{\"orders\": 0}' WHERE id = " + std::to_string(newcomer));
  f.clock.advance_seconds(60);
  f.tick();
  CHECK(campaignd::testing::query_text(f.db(), "SELECT exit_reason FROM enrollments WHERE automation = 'vip' AND "
                                               "contact_id = " + std::to_string(newcomer)) == "left_segment");
  f.clock.advance_seconds(3 * 86400);
  f.tick();
  CHECK(f.sends_for(newcomer) == 2);
  auto status = f.engine->status();
  CHECK(status[0]["enrolled"] == 1);  // the member at start is not counted
}

TEST_CASE("date trigger fires once a year around the anniversary, with its offset") {
  AutomationFixture f;
  f.add_automation("birthday.yaml", R"(name: birthday
trigger: date:birthday-7d
from: "Acme <hello@acme.example>"
steps: [{after: 0s, subject: "A week to your birthday", template: step-1}]
)");
  // kStart is 2026-05-28T20:26:40Z: a birthday on 4 June is 7 days after 28 May.
  auto soon = f.add_contact("soon@example.com", {{"birthday", "1990-06-04"}});
  auto later = f.add_contact("later@example.com", {{"birthday", "1990-06-20"}});
  auto junk = f.add_contact("junk@example.com", {{"birthday", "someday"}});
  REQUIRE(f.reload().empty());
  f.tick();
  CHECK(f.sends_for(soon) == 1);
  CHECK(f.sends_for(later) == 0);
  CHECK(f.sends_for(junk) == 0);
  f.clock.advance_seconds(3600);
  f.tick();
  CHECK(f.sends_for(soon) == 1);
  f.clock.advance_seconds(365 * 86400);  // 2027-05-28
  f.tick();
  CHECK(f.sends_for(soon) == 2);
}

TEST_CASE("`at` sends at the contact's local time") {
  AutomationFixture f;
  f.add_automation("morning.yaml", R"(name: morning
trigger: subscribed
from: "Acme <hello@acme.example>"
steps: [{after: 0s, at: "09:00", subject: "Good morning", template: step-1}]
)");
  REQUIRE(f.reload().empty());
  auto tokyo = f.add_contact("tokyo@example.com", {{"timezone", "+09:00"}});
  auto utc = f.add_contact("utc@example.com");
  f.add_event("subscribed", tokyo);
  f.add_event("subscribed", utc);
  f.tick();
  // 20:26 UTC is 05:26 in Tokyo: due at 00:00 UTC next day; UTC contact at 09:00 UTC next day.
  campaignd::util::UnixTime midnight = campaignd::testing::kStart - (campaignd::testing::kStart % 86400) + 86400;
  CHECK(f.count("SELECT due_at FROM enrollments WHERE contact_id = " + std::to_string(tokyo)) == midnight);
  CHECK(f.count("SELECT due_at FROM enrollments WHERE contact_id = " + std::to_string(utc)) == midnight + 9 * 3600);
}

TEST_CASE("reload: bad files are reported with their place, good ones run; removed automations pause") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  f.add_automation("bad.yaml", "name: bad\ntrigger: subscribed\nfrom: \"Acme <hello@acme.example>\"\n"
                               "steps:\n  - after: 0s\n    subject: Hi\n    template: missing-template\n");
  f.add_automation("dupe.yaml", kDrip);
  auto errors = f.reload();
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].to_string().find("bad.yaml:7:15") != std::string::npos);
  CHECK(errors[1].message.find("already used") != std::string::npos);
  CHECK(f.engine->names() == std::vector<std::string>{"drip"});
  f.files = {};
  REQUIRE(f.reload().empty());
  CHECK(f.count("SELECT COUNT(*) FROM campaigns WHERE name LIKE 'drip#%' AND state = 'paused'") == 3);
  CHECK(f.engine->prepared().empty());
}

TEST_CASE("report works from the database alone") {
  AutomationFixture f;
  f.add_automation("drip.yaml", kDrip);
  REQUIRE(f.reload().empty());
  auto ann = f.add_contact("ann@example.com");
  f.add_event("subscribed", ann);
  f.tick();
  f.exec("UPDATE sends SET state = 'sent'");
  auto step1 = f.count("SELECT id FROM campaigns WHERE name = 'drip#1'");
  f.add_event("opened", ann, {}, false, step1);
  f.add_event("opened", ann, {}, true, step1);
  f.add_event("clicked", ann, {}, true, step1);
  auto r = campaignd::automation::AutomationEngine::report(f.db(), "drip");
  REQUIRE(r);
  REQUIRE(*r);
  CHECK((**r)["active"] == 1);
  CHECK((**r)["steps"][0]["sent"] == 1);
  CHECK((**r)["steps"][0]["opened"] == 1);
  CHECK((**r)["steps"][0]["clicked"] == 0);
  auto none = campaignd::automation::AutomationEngine::report(f.db(), "nope");
  REQUIRE(none);
  CHECK(!*none);
}
