// store/campaigns: campaign rows, their schedule and state, and per-state send counts.
#include <doctest/doctest.h>

#include <string>

#include "daemon/store/campaigns.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using store::CampaignRepository;

namespace {

struct CampaignsFixture {
  testing::TempFolder tmp;
  store::Database db = testing::open_migrated(tmp.file("campaigns.db"));
  CampaignRepository repo{db};

  store::CampaignRow upsert(const std::string& name, util::UnixTime schedule_at, util::UnixTime now,
                            const std::string& definition = "{}") {
    auto row = repo.upsert(name, "campaigns/" + name + ".yaml", definition, schedule_at, now);
    REQUIRE_MESSAGE(row, (row ? "" : row.error()));
    return *row;
  }
};

}  // namespace

TEST_CASE("campaigns: a new campaign is scheduled; an upsert before it starts moves the schedule") {
  CampaignsFixture f;
  auto row = f.upsert("spring", 5000, 1000);
  CHECK(row.id > 0);
  CHECK(row.name == "spring");
  CHECK(row.file == "campaigns/spring.yaml");
  CHECK(row.state == "scheduled");
  CHECK(row.schedule_at == 5000);
  CHECK(row.recipients == 0);
  CHECK_FALSE(row.started_at);
  CHECK_FALSE(row.finished_at);
  CHECK_FALSE(row.error);

  auto again = f.upsert("spring", 7000, 1100, R"({"subject":"new"})");
  CHECK(again.id == row.id);
  CHECK(again.schedule_at == 7000);
  CHECK(testing::query_text(f.db, f.db.sql("SELECT json_extract(definition, '$.subject') FROM campaigns", "SELECT definition->>'subject' FROM campaigns")) == "new");
  CHECK(testing::query_int(f.db, "SELECT updated_at FROM campaigns") == 1100);
  CHECK(testing::query_int(f.db, "SELECT created_at FROM campaigns") == 1000);
}

TEST_CASE("campaigns: once started, an upsert keeps the schedule and the state") {
  CampaignsFixture f;
  auto row = f.upsert("spring", 1000, 1000);
  REQUIRE(f.repo.mark_started(row.id, 42, 1500));
  auto edited = f.upsert("spring", 9000, 2000, R"({"subject":"edited"})");
  CHECK(edited.state == "running");
  CHECK(edited.schedule_at == 1000);
  CHECK(edited.recipients == 42);
  CHECK(edited.started_at == 1500);
  CHECK(testing::query_text(f.db, f.db.sql("SELECT json_extract(definition, '$.subject') FROM campaigns", "SELECT definition->>'subject' FROM campaigns")) == "edited");

  // Paused and done campaigns keep theirs too.
  REQUIRE(f.repo.set_state(row.id, "paused", 2100));
  CHECK(f.upsert("spring", 9500, 2200).schedule_at == 1000);
  REQUIRE(f.repo.set_state(row.id, "done", 2300));
  CHECK(f.upsert("spring", 9600, 2400).schedule_at == 1000);
  CHECK(f.upsert("spring", 9600, 2400).state == "done");
}

TEST_CASE("campaigns: mark_started keeps the first start time") {
  CampaignsFixture f;
  auto row = f.upsert("spring", 1000, 1000);
  REQUIRE(f.repo.mark_started(row.id, 10, 1500));
  REQUIRE(f.repo.mark_started(row.id, 12, 1600));
  auto found = f.repo.find("spring");
  REQUIRE(found);
  REQUIRE(*found);
  CHECK((*found)->state == "running");
  CHECK((*found)->recipients == 12);
  CHECK((*found)->started_at == 1500);
  auto missing = f.repo.find("autumn");
  REQUIRE(missing);
  CHECK_FALSE(*missing);
}

TEST_CASE("campaigns: due() lists scheduled campaigns whose time has come, earliest first") {
  CampaignsFixture f;
  auto late = f.upsert("late", 3000, 100);
  auto early = f.upsert("early", 1000, 100);
  auto future = f.upsert("future", 9000, 100);
  auto started = f.upsert("started", 500, 100);
  REQUIRE(f.repo.mark_started(started.id, 0, 600));
  auto paused = f.upsert("paused", 500, 100);
  REQUIRE(f.repo.set_state(paused.id, "paused", 600));

  auto due = f.repo.due(3000);
  REQUIRE(due);
  REQUIRE(due->size() == 2);
  CHECK((*due)[0].id == early.id);
  CHECK((*due)[1].id == late.id);
  due = f.repo.due(999);
  REQUIRE(due);
  CHECK(due->empty());
  due = f.repo.due(9000);
  REQUIRE(due);
  CHECK(due->size() == 3);
  CHECK(due->back().id == future.id);

  auto all = f.repo.list();
  REQUIRE(all);
  REQUIRE(all->size() == 5);
  CHECK((*all)[0].name == "late");  // list is in id order
  CHECK((*all)[4].name == "paused");
}

TEST_CASE("campaigns: set_state records finish times and errors") {
  CampaignsFixture f;
  auto a = f.upsert("a", 0, 0), b = f.upsert("b", 0, 0), c = f.upsert("c", 0, 0);
  REQUIRE(f.repo.set_state(a.id, "done", 100));
  REQUIRE(f.repo.set_state(b.id, "failed", 200, std::string("segment: no rule named 'x'")));
  REQUIRE(f.repo.set_state(c.id, "paused", 300));
  auto ra = *f.repo.find("a"), rb = *f.repo.find("b"), rc = *f.repo.find("c");
  CHECK(ra->state == "done");
  CHECK(ra->finished_at == 100);
  CHECK(rb->state == "failed");
  CHECK(rb->finished_at == 200);
  CHECK(rb->error == "segment: no rule named 'x'");
  CHECK(rc->state == "paused");
  CHECK_FALSE(rc->finished_at);
  // Resuming clears the error; states outside the schema are refused by the database.
  REQUIRE(f.repo.set_state(b.id, "running", 400));
  CHECK_FALSE((*f.repo.find("b"))->error);
  CHECK_FALSE(f.repo.set_state(c.id, "exploded", 500));
}

TEST_CASE("campaigns: send_counts per state, and topic_of from the definition") {
  CampaignsFixture f;
  auto a = f.upsert("a", 0, 0, R"({"topic":"promotions"})");
  auto b = f.upsert("b", 0, 0);
  auto counts = f.repo.send_counts(a.id);
  REQUIRE(counts);
  CHECK(counts->total() == 0);

  REQUIRE(f.db.exec("INSERT INTO contacts (email, created_at, updated_at) VALUES "
                    "('1@x.example',0,0),('2@x.example',0,0),('3@x.example',0,0),('4@x.example',0,0),"
                    "('5@x.example',0,0),('6@x.example',0,0),('7@x.example',0,0)"));
  auto stmt = f.db.prepare("INSERT INTO sends (campaign_id, contact_id, state) VALUES (?, ?, ?)");
  REQUIRE(stmt);
  const char* states[] = {"queued", "queued", "sending", "sent", "sent", "failed", "skipped"};
  for (int i = 0; i < 7; ++i) {
    REQUIRE(stmt->bind(1, a.id).bind(2, i + 1).bind(3, states[i]).run());
    stmt->reset();
  }
  REQUIRE(stmt->bind(1, b.id).bind(2, 1).bind(3, "sent").run());
  counts = f.repo.send_counts(a.id);
  REQUIRE(counts);
  CHECK(counts->queued == 2);
  CHECK(counts->sending == 1);
  CHECK(counts->sent == 2);
  CHECK(counts->failed == 1);
  CHECK(counts->skipped == 1);
  CHECK(counts->total() == 7);
  CHECK(f.repo.send_counts(b.id)->sent == 1);

  auto topic = f.repo.topic_of(a.id);
  REQUIRE(topic);
  CHECK(*topic == "promotions");
  topic = f.repo.topic_of(b.id);
  REQUIRE(topic);
  CHECK_FALSE(*topic);
}
