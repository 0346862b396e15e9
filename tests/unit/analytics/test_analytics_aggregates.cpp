// Migration 4's triggers: contact_stats, campaign_counts and campaign_hourly follow the events
// table whichever way events arrive (order, duplicates, machine flags, forgotten contacts).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "daemon/analytics/campaign_counts.hpp"
#include "daemon/analytics/contact_analytics.hpp"
#include "daemon/analytics/engagement.hpp"
#include "tests/unit/analytics/analytics_fixture.hpp"

using namespace campaignd;
using namespace campaignd::analytics;
using namespace campaignd::analytics::testing;

TEST_CASE("analytics: contact_stats keeps the latest human response of each kind") {
  Db d;
  auto ann = d.contact("ann@example.com");
  auto bob = d.contact("bob@example.com");
  d.event({"opened", ann, {}, {}, kNow - 5 * kDay});
  d.event({"opened", ann, {}, {}, kNow - 9 * kDay});  // older, arrives later: last stays -5d
  d.event({"opened", ann, {}, {}, kNow - 1 * kDay, {}, 1});  // a scanner: never counts
  d.event({"clicked", ann, {}, {}, kNow - 7 * kDay});
  d.event({"replied", bob, {}, {}, kNow - 3 * kDay});
  d.event({"sent", bob, {}, {}, kNow - 4 * kDay});
  d.event({"sent", bob, {}, {}, kNow - 6 * kDay});
  d.event({"delivered", bob, {}, {}, kNow - 2 * kDay});  // not a contact figure
  d.event({"opened", {}, {}, {}, kNow});                  // no contact: nothing to keep

  auto a = contact_analytics(d.db, ann, kNow);
  REQUIRE(a);
  CHECK(a->last_open_at == kNow - 5 * kDay);
  CHECK(a->last_click_at == kNow - 7 * kDay);
  CHECK_FALSE(a->last_reply_at);
  CHECK_FALSE(a->last_received_at);
  auto b = contact_analytics(d.db, bob, kNow);
  REQUIRE(b);
  CHECK_FALSE(b->last_open_at);
  CHECK(b->last_reply_at == kNow - 3 * kDay);
  CHECK(b->last_received_at == kNow - 4 * kDay);
  CHECK(d.scalar("SELECT COUNT(*) FROM contact_stats") == 2);

  // A contact that never did anything: empty figures, not an error.
  auto eve = d.contact("eve@example.com");
  auto e = contact_analytics(d.db, eve, kNow);
  REQUIRE(e);
  CHECK_FALSE(e->last_open_at);
  CHECK(e->engagement_score == 0);
  CHECK(e->frequency == 0);
  CHECK_FALSE(e->recency_days);
}

TEST_CASE("analytics: purchases give frequency, monetary, first and last purchase") {
  Db d;
  auto ann = d.contact("ann@example.com");
  d.event({"purchase", ann, {}, {}, kNow - 10 * kDay, 30.0});
  d.event({"purchase", ann, {}, {}, kNow - 40 * kDay, 12.5});
  d.event({"purchase", ann, {}, {}, kNow - 2 * kDay});  // no amount: counts, adds nothing
  d.event({"converted", ann, {}, {}, kNow - 10 * kDay, 30.0});  // derived from a purchase: not again
  CHECK(d.event({"purchase", ann, {}, {}, kNow, 99.0, 0, "k1"}));
  CHECK_FALSE(d.event({"purchase", ann, {}, {}, kNow, 99.0, 0, "k1"}));  // a replay: ignored
  auto a = contact_analytics(d.db, ann, kNow + kDay / 2);
  REQUIRE(a);
  CHECK(a->frequency == 4);
  CHECK(a->monetary == doctest::Approx(141.5));
  CHECK(a->first_purchase_at == kNow - 40 * kDay);
  CHECK(a->last_purchase_at == kNow);
  CHECK(a->recency_days == 0);
  auto later = contact_analytics(d.db, ann, kNow + 3 * kDay + 5);
  REQUIRE(later);
  CHECK(later->recency_days == 3);
}

TEST_CASE("analytics: the engagement score is the decayed sum, whatever the order of arrival") {
  Db d;
  auto ann = d.contact("ann@example.com");
  struct E {
    const char* kind;
    std::int64_t days_ago;
    int machine;
  };
  std::vector<E> events = {{"opened", 3, 0}, {"clicked", 45, 0}, {"opened", 100, 0}, {"replied", 12, 0},
                           {"opened", 0, 0}, {"opened", 1, 1},    {"clicked", 2, 1},  {"opened", 60, 0},
                           {"clicked", 7, 0}, {"bounced", 1, 0}};
  double expected = 0;
  for (const auto& e : events)
    if (!e.machine)
      expected += engagement_weight(e.kind) * std::exp2(-static_cast<double>(e.days_ago) / 30.0);
  // Shuffled (not in time order) on purpose.
  for (size_t i : {4, 0, 9, 2, 6, 1, 8, 3, 5, 7})
    d.event({events[i].kind, ann, {}, {}, kNow - events[i].days_ago * kDay, {}, events[i].machine});
  auto a = contact_analytics(d.db, ann, kNow);
  REQUIRE(a);
  CHECK(a->engagement_score == doctest::Approx(expected).epsilon(1e-9));
  // Read later, the whole sum has halved once per 30 days.
  auto later = contact_analytics(d.db, ann, kNow + 30 * kDay);
  REQUIRE(later);
  CHECK(later->engagement_score == doctest::Approx(expected / 2).epsilon(1e-9));
  // The SQL reading (what segments use) agrees with the C++ one.
  auto stmt = d.db.prepare("SELECT " + decayed_engagement_sql(d.db.dialect()) + " FROM contact_stats s WHERE s.contact_id = ?");
  REQUIRE(stmt);
  stmt->bind(1, kNow).bind(2, ann);
  REQUIRE(stmt->step().value_or(false));
  CHECK(stmt->column_double(0) == doctest::Approx(expected).epsilon(1e-9));
  // Weights and half-life as documented: an open today 1, a click 30 days ago 1, a reply 60 days ago 0.75.
  CHECK(decayed_engagement(1.0, kNow, kNow) == 1.0);
  CHECK(decayed_engagement(2.0, kNow - 30 * kDay, kNow) == doctest::Approx(1.0));
  CHECK(decayed_engagement(3.0, kNow - 60 * kDay, kNow) == doctest::Approx(0.75));
  CHECK(decayed_engagement(3.0, kNow + kDay, kNow) == 3.0);  // a future reference reads as now
}

namespace {

// What /status computed before the aggregates: a GROUP BY over events.
std::map<std::int64_t, std::map<std::string, std::int64_t>> counted_from_events(const store::Database& db) {
  std::map<std::int64_t, std::map<std::string, std::int64_t>> out;
  auto stmt = db.prepare(
      "SELECT campaign_id, kind, COUNT(DISTINCT contact_id) FROM events "
      "WHERE campaign_id IS NOT NULL AND machine = 0 AND kind <> 'sent' GROUP BY campaign_id, kind "
      "HAVING COUNT(DISTINCT contact_id) > 0");
  REQUIRE(stmt);
  REQUIRE(stmt->each([&](const store::Statement& r) { out[r.column_int(0)][r.column_text(1)] = r.column_int(2); }));
  return out;
}

}  // namespace

TEST_CASE("analytics: campaign_counts says what a GROUP BY over events says, kept as events arrive") {
  Db d;
  auto c1 = d.campaign("one");
  auto c2 = d.campaign("two");
  std::vector<std::int64_t> people;
  for (int i = 0; i < 12; ++i) people.push_back(d.contact("p" + std::to_string(i) + "@example.com"));
  const char* kinds[] = {"delivered", "opened", "clicked", "replied", "bounced", "unsubscribed", "complained",
                         "converted", "sent", "deferred"};
  // A deterministic mix: repeats, machine events, events with no contact, replays of one key.
  std::uint32_t seed = 7;
  auto next = [&](std::uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 16) % n;
  };
  for (int i = 0; i < 400; ++i) {
    EventSpec e;
    e.kind = kinds[next(10)];
    e.campaign = next(2) ? c1 : c2;
    if (next(10) != 0) e.contact = people[next(12)];
    e.at = kNow - static_cast<std::int64_t>(next(72)) * 3600 - next(3600);
    e.machine = next(5) == 0 ? 1 : 0;
    if (e.kind == "converted") e.amount = 10.0 + next(5);
    if (next(4) == 0) e.key = "k" + std::to_string(next(30));
    d.event(e);
  }
  auto counts = campaign_response_counts(d.db);
  REQUIRE(counts);
  CHECK(*counts == counted_from_events(d.db));
  CHECK(counts->at(c1).count("sent") == 0);
  CHECK(counts->at(c1).size() == 9);  // every other kind occurred

  // Every figure of one campaign, against the events themselves.
  auto one = campaign_kind_counts(d.db, c1);
  REQUIRE(one);
  CHECK(one->at("converted").amount ==
        doctest::Approx(d.real("SELECT COALESCE(SUM(amount), 0) FROM events WHERE campaign_id = " + std::to_string(c1) +
                               " AND kind = 'converted' AND machine = 0 AND contact_id IS NOT NULL")));

  // Hourly: events per hour and kind, and first-time contacts adding up to the distinct count.
  auto hourly = campaign_hourly_counts(d.db, c1);
  REQUIRE(hourly);
  std::map<std::string, std::int64_t> firsts, events;
  for (const auto& h : *hourly) {
    CHECK(h.hour % 3600 == 0);
    firsts[h.kind] += h.contacts;
    events[h.kind] += h.events;
  }
  for (const char* kind : {"opened", "clicked", "replied", "unsubscribed", "converted"}) {
    CAPTURE(kind);
    CHECK(firsts[kind] == one->at(kind).contacts);
    CHECK(events[kind] == d.scalar("SELECT COUNT(*) FROM events WHERE campaign_id = " + std::to_string(c1) +
                                   " AND kind = '" + kind + "' AND machine = 0 AND contact_id IS NOT NULL"));
  }
  CHECK(firsts.count("delivered") == 0);
  CHECK(std::is_sorted(hourly->begin(), hourly->end(),
                       [](const HourlyCount& a, const HourlyCount& b) { return a.hour < b.hour; }));

  // Forgetting contacts (their events cascade away) keeps the aggregates equal to the events.
  REQUIRE(d.db.exec("DELETE FROM contacts WHERE id IN (" + std::to_string(people[0]) + ", " +
                    std::to_string(people[5]) + ")"));
  auto after = campaign_response_counts(d.db);
  REQUIRE(after);
  auto expected = counted_from_events(d.db);
  CHECK(*after == expected);
  CHECK(d.scalar("SELECT COUNT(*) FROM contact_stats WHERE contact_id = " + std::to_string(people[0])) == 0);
  auto hourly_after = campaign_hourly_counts(d.db, c1);
  REQUIRE(hourly_after);
  auto one_after = campaign_kind_counts(d.db, c1);
  REQUIRE(one_after);
  std::map<std::string, std::int64_t> firsts_after;
  for (const auto& h : *hourly_after) firsts_after[h.kind] += h.contacts;
  CHECK(firsts_after["opened"] == one_after->at("opened").contacts);
}

TEST_CASE("analytics: hourly buckets put each event in its UTC hour") {
  Db d;
  auto c = d.campaign("c");
  auto ann = d.contact("ann@example.com");
  auto bob = d.contact("bob@example.com");
  const util::UnixTime hour = 1'800'000'000 - 1'800'000'000 % 3600;
  d.event({"opened", ann, c, {}, hour + 10});
  d.event({"opened", ann, c, {}, hour + 3599});
  d.event({"opened", bob, c, {}, hour + 3600});
  d.event({"opened", bob, c, {}, hour + 3700, {}, 1});  // machine
  d.event({"clicked", bob, c, {}, hour + 7300});
  auto h = campaign_hourly_counts(d.db, c);
  REQUIRE(h);
  REQUIRE(h->size() == 3);
  CHECK((*h)[0].hour == hour);
  CHECK((*h)[0].kind == "opened");
  CHECK((*h)[0].events == 2);
  CHECK((*h)[0].contacts == 1);
  CHECK((*h)[1].hour == hour + 3600);
  CHECK((*h)[1].events == 1);
  CHECK((*h)[1].contacts == 1);
  CHECK((*h)[2].hour == hour + 7200);
  CHECK((*h)[2].kind == "clicked");
}
