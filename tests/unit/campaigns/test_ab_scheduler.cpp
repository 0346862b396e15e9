// campaigns/scheduler with an A/B test, end to end on a real store and a driven clock: the test
// group is split as declared and reproducibly, the campaign waits for its decision, the decision
// on data with a known winner picks it, records its numbers and queues the rest with it.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/campaigns/ab_decisions.hpp"
#include "daemon/delivery/message_composer.hpp"
#include "daemon/tracking/token.hpp"
#include "tests/unit/campaigns/policy_fixture.hpp"

using namespace campaignd;
using testing::kPolicyNow;

namespace {

const std::string kAbCampaign =
    "name: spring-ab\n"
    "from: news@acme.example\n"
    "subject: \"Main subject\"\n"
    "template: promo\n"
    "segment: all\n"
    "variants:\n"
    "  - { name: a, subject: \"A: 20% off, {{first_name}}\" }\n"
    "  - { name: b, subject: \"B: your spring discount\", template: promo-b }\n"
    "ab_test: { fraction: 0.4, wait: 4h, metric: clicks, confidence: 0.95 }\n";

struct AbFixture : testing::PolicyFixture {
  std::vector<std::int64_t> contacts;
  AbFixture() {
    folders.write_template_file("promo-b.html.mustache", "<p>B for {{first_name}}</p><a href=\"{{unsubscribe_url}}\">u</a>\n");
    folders.write_template_file("promo-b.txt.mustache", "B for {{first_name}}\n{{unsubscribe_url}}\n");
    for (int i = 0; i < 100; ++i) contacts.push_back(contact("c" + std::to_string(i) + "@example.com"));
  }
  // contact id -> variant of the campaign's sends
  std::map<std::int64_t, std::string> assignment(std::int64_t campaign_id) {
    std::map<std::int64_t, std::string> out;
    auto stmt = reader.prepare("SELECT contact_id, COALESCE(variant, '') FROM sends WHERE campaign_id = ?");
    REQUIRE(stmt);
    stmt->bind(1, campaign_id);
    REQUIRE(stmt->each([&](const store::Statement& s) { out[s.column_int(0)] = s.column_text(1); }));
    return out;
  }
  long long count(const std::string& sql) { return testing::query_int(reader, sql); }
};

}  // namespace

TEST_CASE("A/B test: the test group is the declared fraction, split evenly, the same after a restart") {
  std::map<std::int64_t, std::string> first;
  for (int run = 0; run < 2; ++run) {
    AbFixture f;
    f.folders.write_campaign("spring-ab.yaml", kAbCampaign);
    f.reload();
    CHECK(f.tick() == 1);
    auto row = f.campaign("spring-ab");
    CHECK(row.state == "running");
    CHECK(row.recipients == 40);
    auto assigned = f.assignment(row.id);
    CHECK(assigned.size() == 40);
    int a = 0, b = 0;
    for (const auto& [contact, variant] : assigned) (variant == "a" ? a : b) += 1;
    CHECK(a == 20);
    CHECK(b == 20);
    // Random, not the first or last ids (the hash is seeded by the campaign id).
    CHECK(assigned.begin()->first != f.contacts.front());
    std::set<std::int64_t> chosen;
    for (const auto& [contact, variant] : assigned) chosen.insert(contact);
    CHECK(chosen != std::set<std::int64_t>(f.contacts.begin(), f.contacts.begin() + 40));
    if (run == 0) first = assigned;
    else CHECK(assigned == first);  // a fresh database, the same ids: the same choice

    auto d = campaigns::load_ab_decision(f.reader, row.id);
    REQUIRE(d);
    REQUIRE(*d);
    CHECK((*d)->state == "testing");
    CHECK((*d)->metric == "clicks");
    CHECK((*d)->test_size == 40);
    CHECK((*d)->decide_at == kPolicyNow + 4 * 3600);
    CHECK_FALSE((*d)->winner);
  }
}

TEST_CASE("A/B test: another seed chooses other contacts; odd groups differ by one at most") {
  testing::PolicyFixture f;
  for (int i = 0; i < 31; ++i) f.contact("x" + std::to_string(i) + "@example.com");
  auto cid1 = f.campaign_row("one"), cid2 = f.campaign_row("two");
  auto plan_for = [&](std::int64_t campaign_id, std::int64_t seed) {
    store::SendRepository::EnqueuePlan plan;
    plan.campaign_id = campaign_id;
    plan.where_sql = "TRUE";
    plan.split_variants = {"a", "b", "c"};
    plan.fraction = 0.5;
    plan.seed = seed;
    return plan;
  };
  REQUIRE(f.store->writer().run([&](const store::Database& db) -> Status {
    store::SendRepository sends(db);
    auto one = sends.enqueue_planned(plan_for(cid1, 1));
    if (!one) return std::unexpected(one.error());
    CHECK(*one == 16);  // round(31 * 0.5)
    auto two = sends.enqueue_planned(plan_for(cid2, 2));
    if (!two) return std::unexpected(two.error());
    return {};
  }));
  auto ids = [&](std::int64_t cid) {
    const std::string list(f.reader.sql("group_concat(contact_id)", "string_agg(contact_id::text, ',' ORDER BY contact_id)"));
    return testing::query_text(f.reader, "SELECT " + list + " FROM (SELECT contact_id FROM sends WHERE campaign_id = " +
                                             std::to_string(cid) + " ORDER BY contact_id) AS ids");
  };
  CHECK(ids(cid1) != ids(cid2));
  for (const char* v : {"a", "b", "c"}) {
    auto n = testing::query_int(f.reader, "SELECT COUNT(*) FROM sends WHERE campaign_id = " + std::to_string(cid1) +
                                              " AND variant = '" + v + "'");
    CHECK(n >= 5);
    CHECK(n <= 6);
  }
}

TEST_CASE("A/B test: the decision on data with a known winner") {
  AbFixture f;
  f.folders.write_campaign("spring-ab.yaml", kAbCampaign);
  f.reload();
  REQUIRE(f.tick() == 1);
  auto row = f.campaign("spring-ab");

  // Every test send goes out; 12 of b's 20 contacts click, 2 of a's. Scanner clicks on a's
  // sends and clicks for another campaign must not count.
  auto assigned = f.assignment(row.id);
  auto other = f.campaign_row("other");
  f.exec("UPDATE sends SET state = 'sent', sent_at = " + std::to_string(kPolicyNow + 60) +
         " WHERE campaign_id = " + std::to_string(row.id));
  int a_clicks = 0, b_clicks = 0, a_machine = 0;
  for (const auto& [contact, variant] : assigned) {
    if (variant == "b" && b_clicks < 12) {
      ++b_clicks;
      f.event("clicked", contact, kPolicyNow + 600, false, row.id);
      f.event("clicked", contact, kPolicyNow + 700, false, row.id);  // twice: one contact still
    } else if (variant == "a" && a_clicks < 2) {
      ++a_clicks;
      f.event("clicked", contact, kPolicyNow + 600, false, row.id);
    } else if (variant == "a" && a_machine < 10) {
      ++a_machine;
      f.event("clicked", contact, kPolicyNow + 600, true, row.id);
      f.event("clicked", contact, kPolicyNow + 600, false, other);
    }
  }
  REQUIRE(b_clicks == 12);
  REQUIRE(a_clicks == 2);

  // Before the wait is over: no decision, and the campaign is not done although nothing is queued.
  f.clock.advance_seconds(4 * 3600 - 1);
  f.tick();
  CHECK(f.campaign("spring-ab").state == "running");
  CHECK(f.count("SELECT COUNT(*) FROM sends WHERE campaign_id = " + std::to_string(row.id)) == 40);
  auto idle_future = f.scheduler.idle(true);
  REQUIRE(idle_future);
  CHECK_FALSE(*idle_future);  // run --once would not wait for it; a long-running daemon knows it is coming

  f.clock.advance_seconds(1);
  f.tick();
  auto d = campaigns::load_ab_decision(f.reader, row.id);
  REQUIRE(d);
  REQUIRE(*d);
  CHECK((*d)->state == "decided");
  CHECK((*d)->winner == "b");
  CHECK((*d)->test == "two-proportion z-test");  // expected counts 7 and 13 per group: >= 5
  REQUIRE((*d)->p_value);
  // 2/20 vs 12/20: pooled 0.35, z = -3.3149677206589794, p = 0.0009165370761145341 (Python math).
  CHECK(*(*d)->p_value == doctest::Approx(0.0009165370761145341).epsilon(1e-9));
  CHECK(*(*d)->statistic == doctest::Approx(-3.3149677206589794).epsilon(1e-9));
  CHECK((*d)->significant);
  CHECK((*d)->decided_at == kPolicyNow + 4 * 3600);
  REQUIRE((*d)->numbers.size() == 2);
  CHECK((*d)->numbers[0].variant == "a");
  CHECK((*d)->numbers[0].sent == 20);
  CHECK((*d)->numbers[0].responded == 2);
  CHECK((*d)->numbers[1].variant == "b");
  CHECK((*d)->numbers[1].sent == 20);
  CHECK((*d)->numbers[1].responded == 12);
  CHECK((*d)->numbers[1].rate() == doctest::Approx(0.6));
  CHECK((*d)->remainder == 60);

  // The rest of the segment is queued with the winner; the test group is untouched.
  std::string where = " FROM sends WHERE campaign_id = " + std::to_string(row.id);
  CHECK(f.count("SELECT COUNT(*)" + where) == 100);
  CHECK(f.count("SELECT COUNT(*)" + where + " AND state = 'queued' AND variant = 'b'") == 60);
  CHECK(f.count("SELECT COUNT(*)" + where + " AND state = 'sent' AND variant = 'a'") == 20);
  CHECK(f.campaign("spring-ab").recipients == 100);

  // Another tick decides nothing again; once the rest is sent the campaign is done.
  f.tick();
  CHECK(f.count("SELECT COUNT(*)" + where) == 100);
  CHECK(f.campaign("spring-ab").state == "running");
  f.exec("UPDATE sends SET state = 'sent', sent_at = " + std::to_string(f.clock.now()) + " WHERE campaign_id = " +
         std::to_string(row.id));
  f.tick();
  CHECK(f.campaign("spring-ab").state == "done");
}

TEST_CASE("A/B test: no evidence either way still decides, and says so") {
  AbFixture f;
  f.folders.write_campaign("spring-ab.yaml", kAbCampaign);
  f.reload();
  REQUIRE(f.tick() == 1);
  auto row = f.campaign("spring-ab");
  f.exec("UPDATE sends SET state = 'sent', sent_at = " + std::to_string(kPolicyNow) + " WHERE campaign_id = " +
         std::to_string(row.id));
  // One click each way (1/20 vs 1/20 is a tie): Fisher's test (expected counts 1), the first variant.
  auto assigned = f.assignment(row.id);
  bool a_done = false, b_done = false;
  for (const auto& [contact, variant] : assigned) {
    bool& done = variant == "a" ? a_done : b_done;
    if (!done) f.event("clicked", contact, kPolicyNow + 60, false, row.id);
    done = true;
  }
  f.clock.advance_seconds(5 * 3600);
  f.tick();
  auto d = campaigns::load_ab_decision(f.reader, row.id);
  REQUIRE(d);
  REQUIRE(*d);
  CHECK((*d)->winner == "a");
  CHECK((*d)->test == "fisher exact");
  CHECK_FALSE((*d)->significant);
  CHECK(*(*d)->p_value == doctest::Approx(1.0));
  CHECK(f.count("SELECT COUNT(*) FROM sends WHERE campaign_id = " + std::to_string(row.id) +
                " AND state = 'queued' AND variant = 'a'") == 60);
}

TEST_CASE("A/B test: a paused campaign's decision waits for its file") {
  AbFixture f;
  f.folders.write_campaign("spring-ab.yaml", kAbCampaign);
  f.reload();
  REQUIRE(f.tick() == 1);
  auto id = f.campaign("spring-ab").id;
  f.folders.remove_campaign("spring-ab.yaml");
  f.reload();
  f.clock.advance_seconds(5 * 3600);
  f.tick();
  auto d = campaigns::load_ab_decision(f.reader, id);
  REQUIRE(d);
  CHECK((*d)->state == "testing");
  f.folders.write_campaign("spring-ab.yaml", kAbCampaign);
  f.reload();
  f.tick();
  d = campaigns::load_ab_decision(f.reader, id);
  CHECK((*d)->state == "decided");
}

TEST_CASE("A/B test: each send is composed with its variant's subject and template") {
  AbFixture f;
  f.folders.write_campaign("spring-ab.yaml", kAbCampaign);
  f.reload();
  auto row = f.campaign("spring-ab");
  auto prepared = f.catalog.find(row.id);
  REQUIRE(prepared);
  CHECK(prepared->variant_templates.size() == 2);
  tracking::TokenSigner signer{"test-key"};
  delivery::MessageComposer composer{"http://127.0.0.1:8025/", signer};
  store::Contact contact;
  contact.id = 1;
  contact.email = "ann@example.com";
  contact.first_name = "Ann";
  auto compose = [&](std::optional<std::string> variant) {
    auto m = composer.compose(*prepared, variant, contact, 7, kPolicyNow);
    REQUIRE_MESSAGE(m, (m ? "" : m.error()));
    return m->bytes;
  };
  auto a = compose("a");
  CHECK(a.find("Subject: A: 20% off, Ann") != std::string::npos);
  CHECK(a.find("Hello Ann") != std::string::npos);  // a keeps the campaign's template
  auto b = compose("b");
  CHECK(b.find("Subject: B: your spring discount") != std::string::npos);
  CHECK(b.find("B for Ann") != std::string::npos);
  auto plain = compose(std::nullopt);
  CHECK(plain.find("Subject: Main subject") != std::string::npos);
  CHECK(compose("gone").find("Subject: Main subject") != std::string::npos);  // an edit removed it
}

TEST_CASE("A/B test: a variant's template is checked at load time, with its place") {
  AbFixture f;
  f.folders.write_campaign("bad-ab.yaml",
                           "from: news@acme.example\nsubject: S\ntemplate: promo\n"
                           "variants:\n  - { name: a, subject: \"{{#broken}}\" }\n  - { name: b, template: missing }\n"
                           "ab_test: { wait: 1h, metric: opens }\n");
  f.reload();
  auto errors = f.catalog.errors();
  REQUIRE(errors.size() == 2);
  CHECK(errors[0].message.starts_with("variant 'a': "));
  CHECK(errors[0].place.line == 5);
  CHECK(errors[1].message.starts_with("variant 'b': "));
  CHECK(errors[1].place.line == 6);
  CHECK(errors[1].place.col == 26);
}
