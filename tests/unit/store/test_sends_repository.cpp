// store/sends: the send queue's table — enqueueing a segment, claiming, and every state change.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/segments/compiler.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/store/topics.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using store::SendRepository;

namespace {

struct SendsFixture {
  testing::TempFolder tmp;
  store::Database db = testing::open_migrated(tmp.file("sends.db"));
  std::int64_t campaign = make_campaign("spring");

  std::int64_t make_campaign(const std::string& name) {
    auto row = store::CampaignRepository(db).upsert(name, name + ".yaml", "{}", 1000, 1000);
    REQUIRE(row);
    return row->id;
  }
  std::int64_t contact(const std::string& email, const std::string& status = "subscribed",
                       nlohmann::json attrs = nlohmann::json::object()) {
    store::Contact c;
    c.email = email;
    c.first_name = email.substr(0, email.find('@'));
    c.status = status;
    c.attrs = std::move(attrs);
    c.created_at = c.updated_at = 1000;
    auto id = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
    REQUIRE_MESSAGE(id, (id ? "" : id.error()));
    return *id;
  }
  // A send row written directly, so tests control every column.
  std::int64_t send(std::int64_t contact_id, util::UnixTime next_attempt_at, const std::string& state = "queued",
                    std::int64_t campaign_id = 0) {
    auto stmt = db.prepare("INSERT INTO sends (campaign_id, contact_id, state, next_attempt_at) VALUES (?, ?, ?, ?) RETURNING id");
    REQUIRE(stmt);
    stmt->bind(1, campaign_id ? campaign_id : campaign).bind(2, contact_id).bind(3, state).bind(4, next_attempt_at);
    auto id = stmt->single_int();
    REQUIRE(id);
    REQUIRE(*id);
    return **id;
  }
  std::string state_of(std::int64_t send_id) {
    return testing::query_text(db, "SELECT state FROM sends WHERE id = " + std::to_string(send_id));
  }
  // Contact emails with a send for the campaign, in id order.
  std::vector<std::string> recipients(std::int64_t campaign_id) {
    auto stmt = db.prepare("SELECT c.email FROM sends s JOIN contacts c ON c.id = s.contact_id "
                           "WHERE s.campaign_id = ? ORDER BY c.id");
    REQUIRE(stmt);
    stmt->bind(1, campaign_id);
    std::vector<std::string> out;
    while (*stmt->step()) out.push_back(stmt->column_text(0));
    return out;
  }
};

std::vector<std::int64_t> ids_of(const std::vector<store::ClaimedSend>& claimed) {
  std::vector<std::int64_t> out;
  for (const auto& c : claimed) out.push_back(c.id);
  return out;
}

}  // namespace

TEST_CASE("sends: enqueue_matching takes subscribed, unsuppressed, matching contacts once") {
  SendsFixture f;
  f.contact("ann@example.com", "subscribed", {{"country", "CA"}, {"orders", 3}});
  f.contact("bob@example.com", "subscribed", {{"country", "US"}, {"orders", 5}});
  f.contact("cat@example.com", "unsubscribed", {{"country", "CA"}, {"orders", 9}});
  f.contact("dan@example.com", "pending", {{"country", "CA"}, {"orders", 9}});
  f.contact("eve@example.com", "bounced", {{"country", "CA"}, {"orders", 9}});
  f.contact("fay@example.com", "subscribed", {{"country", "CA"}, {"orders", 1}});
  f.contact("gus@example.com", "subscribed", {{"country", "CA"}, {"orders", 2}});
  REQUIRE(store::SuppressionRepository(f.db).add("GUS@example.com", "manual", 1000));

  auto segment = segments::compile_segment("country = \"CA\" and orders >= 2", 1000, f.db.dialect());
  REQUIRE(segment);
  CHECK_FALSE(segment->params.empty());  // the literals are bound, not pasted
  SendRepository sends(f.db);
  auto n = sends.enqueue_matching(f.campaign, segment->where_sql, segment->params);
  REQUIRE(n);
  CHECK(*n == 1);
  CHECK(f.recipients(f.campaign) == std::vector<std::string>{"ann@example.com"});

  // Running it again adds nobody twice; a new match is added.
  f.contact("hal@example.com", "subscribed", {{"country", "CA"}, {"orders", 4}});
  n = sends.enqueue_matching(f.campaign, segment->where_sql, segment->params);
  REQUIRE(n);
  CHECK(*n == 2);
  CHECK(f.recipients(f.campaign) == std::vector<std::string>{"ann@example.com", "hal@example.com"});
  CHECK(testing::query_int(f.db, "SELECT COUNT(*) FROM sends WHERE state = 'queued' AND attempts = 0 "
                                 "AND next_attempt_at = 0") == 2);
}

TEST_CASE("sends: enqueue_matching binds hand-written parameters after its own") {
  SendsFixture f;
  f.contact("ann@example.com", "subscribed", {{"country", "CA"}});
  f.contact("bob@example.com", "subscribed", {{"country", "CA"}});
  f.contact("cat@example.com", "subscribed", {{"country", "US"}});
  auto n = SendRepository(f.db).enqueue_matching(
      f.campaign,
      std::string(f.db.sql("json_extract(c.attrs, '$.country') = ? AND c.first_name <> ?",
                           "c.attrs->>'country' = ? AND c.first_name <> ?")),
      {store::SqlValue(std::string("CA")), store::SqlValue(std::string("bob"))});
  REQUIRE(n);
  CHECK(*n == 1);
  CHECK(f.recipients(f.campaign) == std::vector<std::string>{"ann@example.com"});
  // Text that looks like SQL stays a value.
  n = SendRepository(f.db).enqueue_matching(f.campaign, "c.email = ?",
                                            {store::SqlValue(std::string("x' OR '1'='1"))});
  REQUIRE(n);
  CHECK(*n == 1);
}

TEST_CASE("sends: enqueue_matching leaves out contacts who left the campaign's topic") {
  SendsFixture f;
  auto ann = f.contact("ann@example.com");
  auto bob = f.contact("bob@example.com");
  f.contact("cat@example.com");
  REQUIRE(store::TopicRepository(f.db).set(ann, "promotions", false, 1000));
  REQUIRE(store::TopicRepository(f.db).set(bob, "promotions", true, 1000));
  auto n = SendRepository(f.db).enqueue_matching(f.campaign, "TRUE", {}, std::string("promotions"));
  REQUIRE(n);
  CHECK(*n == 2);
  CHECK(f.recipients(f.campaign) == std::vector<std::string>{"bob@example.com", "cat@example.com"});
  // Without a topic, leaving a topic does not matter.
  auto other = f.make_campaign("other");
  n = SendRepository(f.db).enqueue_matching(other, "TRUE", {});
  REQUIRE(n);
  CHECK(*n == 3);
}

TEST_CASE("sends: a bad segment condition is an error, not a crash") {
  SendsFixture f;
  f.contact("ann@example.com");
  auto n = SendRepository(f.db).enqueue_matching(f.campaign, "no_such_column = 1", {});
  CHECK_FALSE(n);
}

TEST_CASE("sends: claim_due takes only due queued sends, oldest first, up to the limit") {
  SendsFixture f;
  auto a = f.contact("a@example.com"), b = f.contact("b@example.com"), c = f.contact("c@example.com"),
       d = f.contact("d@example.com"), e = f.contact("e@example.com");
  auto s1 = f.send(a, 100);
  auto s2 = f.send(b, 50);
  auto s3 = f.send(c, 300);
  auto s4 = f.send(d, 0, "sent");
  auto s5 = f.send(e, 0, "failed");
  SendRepository sends(f.db);

  auto claimed = sends.claim_due(200, 1);
  REQUIRE(claimed);
  CHECK(ids_of(*claimed) == std::vector<std::int64_t>{s2});
  CHECK((*claimed)[0].campaign_id == f.campaign);
  CHECK((*claimed)[0].contact_id == b);
  CHECK((*claimed)[0].attempts == 0);
  CHECK(f.state_of(s2) == "sending");
  CHECK(f.state_of(s1) == "queued");

  claimed = sends.claim_due(200, 10);
  REQUIRE(claimed);
  CHECK(ids_of(*claimed) == std::vector<std::int64_t>{s1});
  claimed = sends.claim_due(200, 10);
  REQUIRE(claimed);
  CHECK(claimed->empty());  // s3 not due yet, the rest not queued
  claimed = sends.claim_due(300, 10);
  REQUIRE(claimed);
  CHECK(ids_of(*claimed) == std::vector<std::int64_t>{s3});
  CHECK(f.state_of(s4) == "sent");
  CHECK(f.state_of(s5) == "failed");
}

TEST_CASE("sends: claim_due returns what it claimed in due order") {
  SendsFixture f;
  auto a = f.contact("a@example.com"), b = f.contact("b@example.com"), c = f.contact("c@example.com");
  auto s1 = f.send(a, 100);
  auto s2 = f.send(b, 50);
  auto s3 = f.send(c, 10);
  auto claimed = SendRepository(f.db).claim_due(200, 10);
  REQUIRE(claimed);
  CHECK(ids_of(*claimed) == std::vector<std::int64_t>{s3, s2, s1});
}

TEST_CASE("sends: requeue_in_flight puts sending rows back and counts them") {
  SendsFixture f;
  auto a = f.contact("a@example.com"), b = f.contact("b@example.com"), c = f.contact("c@example.com");
  auto s1 = f.send(a, 0, "sending");
  auto s2 = f.send(b, 0, "sending");
  auto s3 = f.send(c, 0, "sent");
  SendRepository sends(f.db);
  auto n = sends.requeue_in_flight();
  REQUIRE(n);
  CHECK(*n == 2);
  CHECK(f.state_of(s1) == "queued");
  CHECK(f.state_of(s2) == "queued");
  CHECK(f.state_of(s3) == "sent");
  n = sends.requeue_in_flight();
  REQUIRE(n);
  CHECK(*n == 0);
}

TEST_CASE("sends: sent, retry, failed and skipped record what happened") {
  SendsFixture f;
  auto a = f.contact("a@example.com"), b = f.contact("b@example.com"), c = f.contact("c@example.com"),
       d = f.contact("d@example.com");
  auto s1 = f.send(a, 0, "sending"), s2 = f.send(b, 0, "sending"), s3 = f.send(c, 0, "sending"),
       s4 = f.send(d, 0, "sending");
  SendRepository sends(f.db);
  REQUIRE(sends.mark_sent(s1, "abc.123@acme.example", 250, 2000));
  REQUIRE(sends.mark_retry(s2, 2300, 451, "try later", 2000));
  REQUIRE(sends.mark_failed(s3, 550, "5.1.1 no such user", 2000));
  REQUIRE(sends.mark_skipped(s4, "contact is unsubscribed", 2000));

  auto ref = sends.find(s1);
  REQUIRE(ref);
  REQUIRE(*ref);
  CHECK((*ref)->state == "sent");
  CHECK((*ref)->campaign_id == f.campaign);
  CHECK((*ref)->contact_id == a);
  CHECK((*ref)->sent_at == 2000);
  CHECK((*ref)->message_id == "abc.123@acme.example");
  auto by_mid = sends.find_by_message_id("abc.123@acme.example");
  REQUIRE(by_mid);
  REQUIRE(*by_mid);
  CHECK((*by_mid)->id == s1);
  auto none = sends.find_by_message_id("nope@acme.example");
  REQUIRE(none);
  CHECK_FALSE(*none);
  none = sends.find(s4 + 100);
  REQUIRE(none);
  CHECK_FALSE(*none);

  auto row = [&](std::int64_t id, const std::string& cols) {
    return testing::query_text(f.db, "SELECT " + cols + " FROM sends WHERE id = " + std::to_string(id));
  };
  CHECK(row(s1, "state || '|' || attempts || '|' || last_code || '|' || COALESCE(last_error, 'null')") == "sent|1|250|null");
  CHECK(row(s2, "state || '|' || attempts || '|' || next_attempt_at || '|' || last_code || '|' || last_error") ==
        "queued|1|2300|451|try later");
  CHECK(row(s3, "state || '|' || attempts || '|' || last_code || '|' || last_error") == "failed|1|550|5.1.1 no such user");
  CHECK(row(s4, "state || '|' || attempts || '|' || last_error") == "skipped|0|contact is unsubscribed");
  CHECK(row(s2, "COALESCE(CAST(sent_at AS TEXT), 'null')") == "null");

  // A retried send is claimed again once due, with its attempt counted.
  auto early = sends.claim_due(2299, 10);
  REQUIRE(early);
  CHECK(early->empty());
  auto due = sends.claim_due(2300, 10);
  REQUIRE(due);
  REQUIRE(due->size() == 1);
  CHECK((*due)[0].id == s2);
  CHECK((*due)[0].attempts == 1);

  auto history = sends.for_contact(a);
  REQUIRE(history);
  REQUIRE(history->size() == 1);
  CHECK((*history)[0]["campaign"] == "spring");
  CHECK((*history)[0]["state"] == "sent");
  CHECK((*history)[0]["message_id"] == "abc.123@acme.example");
  CHECK((*history)[0]["sent_at"] == "1970-01-01T00:33:20Z");
  CHECK((*history)[0]["last_code"] == 250);
}

TEST_CASE("sends: any_unfinished, queue_depth and next_due_at") {
  SendsFixture f;
  SendRepository sends(f.db);
  auto next = sends.next_due_at();
  REQUIRE(next);
  CHECK_FALSE(*next);
  CHECK(*sends.queue_depth() == 0);
  CHECK_FALSE(*sends.any_unfinished(f.campaign));

  auto other = f.make_campaign("other");
  auto done = f.make_campaign("done");
  auto inflight = f.make_campaign("inflight");
  auto a = f.contact("a@example.com"), b = f.contact("b@example.com"), c = f.contact("c@example.com"),
       d = f.contact("d@example.com");
  f.send(a, 500);
  f.send(b, 200);
  f.send(c, 0, "sending");
  f.send(d, 0, "sent");
  f.send(a, 100, "queued", other);
  f.send(b, 0, "skipped", other);
  f.send(a, 0, "sent", done);
  f.send(b, 0, "failed", done);
  f.send(c, 0, "skipped", done);
  f.send(d, 0, "sent", inflight);
  f.send(a, 0, "sending", inflight);
  CHECK(*sends.any_unfinished(f.campaign));
  CHECK(*sends.any_unfinished(other));  // one queued among finished ones
  CHECK_FALSE(*sends.any_unfinished(done));
  CHECK(*sends.any_unfinished(inflight));  // one being sent
  CHECK(*sends.queue_depth() == 5);
  next = sends.next_due_at();
  REQUIRE(next);
  CHECK(*next == 100);
}

TEST_CASE("sends: enqueue_one queues a confirmation again, but never one in flight") {
  SendsFixture f;
  auto a = f.contact("a@example.com", "pending");
  SendRepository sends(f.db);
  REQUIRE(sends.enqueue_one(f.campaign, a, 1000));
  auto id = testing::query_int(f.db, "SELECT id FROM sends");
  CHECK(f.state_of(id) == "queued");
  REQUIRE(sends.mark_sent(id, "m1@acme.example", 250, 1001));
  REQUIRE(sends.enqueue_one(f.campaign, a, 1002));
  CHECK(testing::query_int(f.db, "SELECT COUNT(*) FROM sends") == 1);
  CHECK(testing::query_text(f.db, "SELECT state || '|' || attempts || '|' || COALESCE(message_id, 'null') FROM sends") ==
        "queued|0|null");
  auto claimed = sends.claim_due(1003, 10);
  REQUIRE(claimed);
  REQUIRE(claimed->size() == 1);
  REQUIRE(sends.enqueue_one(f.campaign, a, 1004));
  CHECK(f.state_of(id) == "sending");
}

TEST_CASE("sends: an address suppressed and then forgotten is still left out") {
  SendsFixture f;
  store::SuppressionRepository suppressions(f.db);
  REQUIRE(suppressions.add("gone@example.com", "forget", 1000));
  REQUIRE(suppressions.forget("gone@example.com"));
  REQUIRE(*suppressions.is_suppressed("gone@example.com"));
  f.contact("gone@example.com");
  f.contact("kept@example.com");
  auto n = SendRepository(f.db).enqueue_matching(f.campaign, "TRUE", {});
  REQUIRE(n);
  CHECK(*n == 1);
  CHECK(f.recipients(f.campaign) == std::vector<std::string>{"kept@example.com"});
}

TEST_CASE("sends: outcomes are fenced by the lease owner, except sent") {
  SendsFixture f;
  auto c1 = f.contact("ann@example.com");
  auto c2 = f.contact("bob@example.com");
  auto taken = f.send(c1, 0, "sending");
  auto mine = f.send(c2, 0, "sending");
  // Another node claimed `taken` after this one's lease ran out; `mine` is still this node's.
  REQUIRE(f.db.exec("UPDATE sends SET lease_owner = 'other:1:1' WHERE id = " + std::to_string(taken)));
  REQUIRE(f.db.exec("UPDATE sends SET lease_owner = 'me:1:1' WHERE id = " + std::to_string(mine)));
  SendRepository me(f.db, "me:1:1");
  auto state = [&](std::int64_t id) {
    return testing::query_text(f.db, "SELECT state FROM sends WHERE id = " + std::to_string(id));
  };
  REQUIRE(me.mark_retry(taken, 100, 451, "later", 50));
  REQUIRE(me.mark_deferred(taken, 100, 0, "deferred", 50));
  REQUIRE(me.mark_failed(taken, 550, "no", 50));
  REQUIRE(me.mark_skipped(taken, "why", 50));
  CHECK(state(taken) == "sending");  // untouched: the other node owns it now
  REQUIRE(me.mark_failed(mine, 550, "no", 50));
  CHECK(state(mine) == "failed");
  // The message did go: recording it stops the new owner from sending it a second time.
  REQUIRE(me.mark_sent(taken, "m1@acme.example", 250, 60));
  CHECK(state(taken) == "sent");
  // Without an owner (a single node, the CLI) there is no fence.
  auto third = f.send(f.contact("cat@example.com"), 0, "sending");
  REQUIRE(f.db.exec("UPDATE sends SET lease_owner = 'other:1:1' WHERE id = " + std::to_string(third)));
  REQUIRE(SendRepository(f.db).mark_skipped(third, "why", 50));
  CHECK(state(third) == "skipped");
}
