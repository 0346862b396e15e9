// campaigns/send_policy and the scheduler's enqueue: the sunset rule, the frequency cap (when
// the list is built and again at send time) and send_time: best, on contacts with known events.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "daemon/campaigns/send_policy.hpp"
#include "tests/unit/campaigns/policy_fixture.hpp"

using namespace campaignd;
using testing::kDay;
using testing::kPolicyNow;

namespace {

const std::string kHead = "from: news@acme.example\nsubject: Hi\ntemplate: promo\nsegment: all\n";

// The emails of a campaign's sends.
std::set<std::string> recipients(testing::PolicyFixture& f, const std::string& campaign) {
  std::set<std::string> out;
  auto stmt = f.reader.prepare(
      "SELECT c.email FROM sends s JOIN contacts c ON c.id = s.contact_id JOIN campaigns k ON k.id = s.campaign_id "
      "WHERE k.name = ?");
  REQUIRE(stmt);
  stmt->bind(1, campaign);
  REQUIRE(stmt->each([&](const store::Statement& s) { out.insert(s.column_text(0)); }));
  return out;
}

util::UnixTime due_at(testing::PolicyFixture& f, const std::string& campaign, const std::string& email) {
  return testing::query_int(f.reader, "SELECT s.next_attempt_at FROM sends s JOIN contacts c ON c.id = s.contact_id "
                                      "JOIN campaigns k ON k.id = s.campaign_id WHERE k.name = '" + campaign +
                                      "' AND c.email = '" + email + "'");
}

}  // namespace

TEST_CASE("sunset: exclude_unengaged leaves out long-known contacts without human engagement in the window") {
  testing::PolicyFixture f;
  const util::UnixTime old = kPolicyNow - 200 * kDay, recent = kPolicyNow - 10 * kDay;
  f.contact("old-silent@example.com", old);
  auto opened = f.contact("old-opened@example.com", old);
  f.event("opened", opened, recent);
  auto clicked = f.contact("old-clicked@example.com", old);
  f.event("clicked", clicked, recent);
  auto replied = f.contact("old-replied@example.com", old);
  f.event("replied", replied, recent);
  auto machine = f.contact("old-machine@example.com", old);
  f.event("opened", machine, recent, true);  // a scanner keeps nobody alive
  auto stale = f.contact("old-stale@example.com", old);
  f.event("opened", stale, kPolicyNow - 181 * kDay);  // engaged, but before the window
  f.contact("new@example.com", kPolicyNow - 30 * kDay);  // not with us long enough to judge
  // Created recently (re-imported), but we have been mailing it for longer than the window.
  auto mailed = f.contact("mailed-long@example.com", kPolicyNow - 30 * kDay);
  f.event("sent", mailed, old);
  auto purchase_only = f.contact("old-buyer@example.com", old);
  f.event("purchase", purchase_only, recent);

  f.folders.write_campaign("sunset.yaml", kHead + "exclude_unengaged: 180d\n");
  f.folders.write_campaign("everyone.yaml", "name: everyone\n" + kHead);
  f.reload();
  CHECK(f.tick() == 2);
  CHECK(recipients(f, "sunset") == std::set<std::string>{"old-opened@example.com", "old-clicked@example.com",
                                                          "old-replied@example.com", "new@example.com"});
  CHECK(recipients(f, "everyone").size() == 9);
  CHECK(f.campaign("sunset").recipients == 4);
}

TEST_CASE("frequency cap: at enqueue, broadcasts in the period count; confirmations and automations do not") {
  testing::PolicyFixture f;
  auto news1 = f.campaign_row("news-1"), news2 = f.campaign_row("news-2"), news3 = f.campaign_row("news-3");
  auto confirm = f.campaign_row("_confirm"), welcome = f.campaign_row("welcome#1"), welcome2 = f.campaign_row("welcome#2");
  const util::UnixTime in_period = kPolicyNow - 2 * kDay, before = kPolicyNow - 8 * kDay;

  auto full = f.contact("full@example.com");  // 3 broadcasts in 7 days: capped
  for (auto c : {news1, news2, news3}) f.send_row(c, full, "sent", in_period);
  auto two = f.contact("two@example.com");  // 2 broadcasts, one failed and one queued: room for one more
  for (auto c : {news1, news2}) f.send_row(c, two, "sent", in_period);
  f.send_row(news3, two, "failed", std::nullopt);
  auto old = f.contact("old@example.com");  // 3 broadcasts, but 8 days ago
  for (auto c : {news1, news2, news3}) f.send_row(c, old, "sent", before);
  auto asked = f.contact("asked@example.com");  // 1 broadcast and 3 mails the contact asked for
  f.send_row(news1, asked, "sent", in_period);
  for (auto c : {confirm, welcome, welcome2}) f.send_row(c, asked, "sent", in_period);

  f.folders.write_campaign("capped.yaml", kHead + "frequency_cap: 3/7d\n");
  f.reload();
  CHECK(f.tick() == 1);
  CHECK(recipients(f, "capped") == std::set<std::string>{"two@example.com", "old@example.com", "asked@example.com"});
}

TEST_CASE("frequency cap: checked again at send time") {
  testing::PolicyFixture f;
  auto news1 = f.campaign_row("news-1"), news2 = f.campaign_row("news-2"), welcome = f.campaign_row("welcome#1");
  auto ann = f.contact("ann@example.com"), bob = f.contact("bob@example.com");
  f.send_row(news1, ann, "sent", kPolicyNow - kDay);
  f.folders.write_campaign("capped.yaml", kHead + "frequency_cap: 2/7d\n");
  f.reload();
  REQUIRE(f.tick() == 1);
  auto capped = f.catalog.find(f.campaign("capped").id);
  REQUIRE(capped);
  auto send_of = [&](std::int64_t contact) {
    store::ClaimedSend s;
    s.campaign_id = capped->id;
    s.contact_id = contact;
    s.id = testing::query_int(f.reader, "SELECT id FROM sends WHERE campaign_id = " + std::to_string(capped->id) +
                                            " AND contact_id = " + std::to_string(contact));
    REQUIRE(s.id > 0);
    return s;
  };
  auto refusal = [&](std::int64_t contact) {
    auto r = campaigns::send_time_refusal(f.reader, *capped, send_of(contact), f.clock.now());
    REQUIRE_MESSAGE(r, (r ? "" : r.error()));
    return *r;
  };
  CHECK_FALSE(refusal(ann));  // one broadcast of two
  CHECK_FALSE(refusal(bob));

  // Meanwhile another campaign reached Ann: she is at the cap now. An automation mail to Bob is
  // not a broadcast.
  f.send_row(news2, ann, "sent", kPolicyNow);
  f.send_row(welcome, bob, "sent", kPolicyNow);
  f.send_row(welcome, ann, "sent", kPolicyNow);
  auto reason = refusal(ann);
  REQUIRE(reason);
  CHECK(*reason == "frequency cap 2/7d reached (2 campaign emails in the period)");
  CHECK_FALSE(refusal(bob));

  // Sends in flight: one with a lower id than Bob's counts, one with a higher id does not.
  f.send_row(news1, bob, "sent", kPolicyNow - 6 * kDay);
  CHECK_FALSE(refusal(bob));
  auto bob_send = send_of(bob).id;
  auto news3 = f.campaign_row("news-3");
  auto later = f.send_row(news3, bob, "sending", std::nullopt);
  REQUIRE(later > bob_send);
  CHECK_FALSE(refusal(bob));
  f.exec("UPDATE sends SET id = 0 WHERE id = " + std::to_string(later));  // now it was claimed first
  CHECK(refusal(bob));
  // Past the period the old broadcast no longer counts... but the in-flight one and Ann's stay.
  f.clock.advance_seconds(kDay + 1);
  CHECK_FALSE(refusal(bob));
  CHECK(refusal(ann));
}

TEST_CASE("frequency cap: campaigns without one are never refused") {
  testing::PolicyFixture f;
  auto news = f.campaign_row("news-1");
  auto ann = f.contact("ann@example.com");
  for (int i = 0; i < 5; ++i) f.send_row(f.campaign_row("n" + std::to_string(i)), ann, "sent", kPolicyNow);
  f.folders.write_campaign("free.yaml", kHead);
  f.reload();
  REQUIRE(f.tick() == 1);
  auto prepared = f.catalog.find(f.campaign("free").id);
  store::ClaimedSend s{1, prepared->id, ann, 0, std::nullopt, std::nullopt};
  auto r = campaigns::send_time_refusal(f.reader, *prepared, s, kPolicyNow);
  REQUIRE(r);
  CHECK_FALSE(*r);
  (void)news;
}

TEST_CASE("send_time: best queues each send for the contact's usual open hour, within a day") {
  testing::PolicyFixture f;
  const util::UnixTime day = kPolicyNow - 9 * 3600 - 20 * kDay;  // midnight UTC, 20 days ago
  f.clock.set(kPolicyNow + 1800);  // 09:30 UTC
  auto afternoon = f.contact("afternoon@example.com");  // 14h x3, 08h x1 -> 14:00 today
  for (int i = 0; i < 3; ++i) f.event("opened", afternoon, day + i * kDay + 14 * 3600 + 600 * i);
  f.event("opened", afternoon, day + 8 * 3600);
  auto tie = f.contact("tie@example.com");  // 07h x2, 20h x2 -> the earlier hour, 07:00 tomorrow
  for (int i = 0; i < 2; ++i) {
    f.event("opened", tie, day + i * kDay + 20 * 3600);
    f.event("opened", tie, day + i * kDay + 7 * 3600 + 59 * 60);
  }
  auto now_hour = f.contact("now@example.com");  // 09h: the current hour, so at once (09:30)
  f.event("opened", now_hour, day + 9 * 3600 + 5);
  f.contact("unknown@example.com");  // no history: as scheduled
  auto scanner = f.contact("scanner@example.com");  // machine opens only: as scheduled
  f.event("opened", scanner, day + 15 * 3600, true);
  auto clicker = f.contact("clicker@example.com");  // clicks are not opens
  f.event("clicked", clicker, day + 16 * 3600);

  f.folders.write_campaign("best.yaml", kHead + "send_time: best\n");
  f.reload();
  REQUIRE(f.tick() == 1);
  const util::UnixTime today = kPolicyNow - 9 * 3600;
  CHECK(due_at(f, "best", "afternoon@example.com") == today + 14 * 3600);
  CHECK(due_at(f, "best", "tie@example.com") == today + kDay + 7 * 3600);
  CHECK(due_at(f, "best", "now@example.com") == kPolicyNow + 1800);
  CHECK(due_at(f, "best", "unknown@example.com") == 0);
  CHECK(due_at(f, "best", "scanner@example.com") == 0);
  CHECK(due_at(f, "best", "clicker@example.com") == 0);
  // Not done while sends wait for their hour.
  f.tick();
  CHECK(f.campaign("best").state == "running");
}

TEST_CASE("send_time: best with an A/B test: the remainder waits for each contact's hour too") {
  testing::PolicyFixture f;
  f.folders.write_template_file("promo-b.txt.mustache", "B {{unsubscribe_url}}\n");
  const util::UnixTime day = kPolicyNow - 9 * 3600 - 20 * kDay;
  for (int i = 0; i < 10; ++i) {
    auto c = f.contact("c" + std::to_string(i) + "@example.com");
    f.event("opened", c, day + 18 * 3600);
  }
  f.folders.write_campaign("ab.yaml", kHead +
                                          "send_time: best\n"
                                          "variants:\n  - { name: a, subject: A }\n  - { name: b, template: promo-b }\n"
                                          "ab_test: { fraction: 0.2, wait: 1h, metric: opens }\n");
  f.reload();
  REQUIRE(f.tick() == 1);
  auto id = std::to_string(f.campaign("ab").id);
  const util::UnixTime today = kPolicyNow - 9 * 3600;
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM sends WHERE campaign_id = " + id +
                                         " AND next_attempt_at = " + std::to_string(today + 18 * 3600)) == 2);
  f.clock.advance_seconds(3600);
  f.tick();
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM sends WHERE campaign_id = " + id +
                                         " AND variant = 'a' AND next_attempt_at = " +
                                         std::to_string(today + 18 * 3600)) == 9);
}
