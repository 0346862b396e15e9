// campaigns/scheduler: campaign files become rows, due campaigns become queued sends, and
// edits, removals and finished queues move the campaign's state — on a store and a driven clock.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "daemon/campaigns/scheduler.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/suppressions.hpp"
#include "tests/unit/campaigns/campaign_fixture.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

namespace {

constexpr util::UnixTime kNow = 1772355600;  // 2026-03-01T09:00:00Z

struct SchedulerFixture {
  testing::CampaignFolders folders;
  std::unique_ptr<store::Store> store = open_store(folders.tmp().file("var/campaignd.db"));
  store::Database reader = open_reader(*store);
  campaigns::Catalog catalog;
  util::ManualClock clock{kNow};
  campaigns::Scheduler scheduler{*store, catalog, clock,
                                 campaigns::SchedulerPaths{folders.campaigns_dir(), folders.loader_paths(), {}, {}}};

  SchedulerFixture() { folders.write_template("promo"); }

  static std::unique_ptr<store::Store> open_store(const std::string& path) {
    auto s = store::Store::open(campaignd::testing::store_target(path));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return std::move(*s);
  }
  static store::Database open_reader(store::Store& s) {
    auto r = s.open_reader();
    REQUIRE(r);
    return std::move(*r);
  }

  std::int64_t contact(const std::string& email, const std::string& country, const std::string& status = "subscribed") {
    std::int64_t id = 0;
    REQUIRE(store->writer().run([&](const store::Database& db) -> Status {
      store::Contact c;
      c.email = email;
      c.first_name = email.substr(0, email.find('@'));
      c.status = status;
      c.attrs = {{"country", country}};
      c.created_at = c.updated_at = kNow;
      auto r = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
      if (!r) return std::unexpected(r.error());
      id = *r;
      return {};
    }));
    return id;
  }
  void suppress(const std::string& email) {
    REQUIRE(store->writer().run(
        [&](const store::Database& db) { return store::SuppressionRepository(db).add(email, "manual", kNow); }));
  }
  void reload() {
    auto s = scheduler.reload();
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  }
  int tick() {
    auto started = scheduler.tick();
    REQUIRE_MESSAGE(started, (started ? "" : started.error()));
    return *started;
  }
  store::CampaignRow campaign(const std::string& name) {
    auto row = store::CampaignRepository(reader).find(name);
    REQUIRE(row);
    REQUIRE(*row);
    return **row;
  }
  // Recipient emails of a campaign's sends, in contact order.
  std::vector<std::string> recipients(const std::string& name) {
    auto stmt = reader.prepare(
        "SELECT c.email FROM sends s JOIN contacts c ON c.id = s.contact_id JOIN campaigns k ON k.id = s.campaign_id "
        "WHERE k.name = ? ORDER BY c.id");
    REQUIRE(stmt);
    stmt->bind(1, name);
    std::vector<std::string> out;
    while (*stmt->step()) out.push_back(stmt->column_text(0));
    return out;
  }
  void finish_all_sends(const std::string& state = "sent") {
    REQUIRE(store->writer().run([&](const store::Database& db) {
      return db.exec("UPDATE sends SET state = '" + state + "' WHERE state IN ('queued', 'sending')");
    }));
  }
};

const std::string kCanada =
    "from: \"Acme <news@acme.example>\"\nsubject: \"Hi {{first_name}}\"\ntemplate: promo\n"
    "segment: 'country = \"CA\"'\n";

}  // namespace

TEST_CASE("scheduler: reload records valid campaigns and lists the invalid ones") {
  SchedulerFixture f;
  f.folders.write_campaign("now.yaml", kCanada + "schedule: now\n");
  f.folders.write_campaign("later.yaml", kCanada + "schedule: 2026-03-02T09:00:00Z\n");
  f.folders.write_campaign("bad.yaml", "from: nobody\nsubject: s\ntemplate: promo\n");
  f.reload();
  auto rows = store::CampaignRepository(f.reader).list();
  REQUIRE(rows);
  REQUIRE(rows->size() == 2);
  auto later = f.campaign("later");
  CHECK(later.state == "scheduled");
  CHECK(later.schedule_at == kNow + 86400);
  CHECK(f.campaign("now").schedule_at == kNow);
  CHECK(f.catalog.all().size() == 2);
  REQUIRE(f.catalog.errors().size() == 1);
  CHECK(f.catalog.errors()[0].place.file.ends_with("bad.yaml"));
  CHECK(f.catalog.errors()[0].place.line == 1);
  auto prepared = f.catalog.find(later.id);
  REQUIRE(prepared);
  CHECK(prepared->campaign.name == "later");
  // Recorded, not started: nothing is queued by a reload.
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM sends") == 0);
}

TEST_CASE("scheduler: tick starts a `schedule: now` campaign for exactly the matching, mailable contacts") {
  SchedulerFixture f;
  f.contact("ann@example.com", "CA");
  f.contact("bob@example.com", "US");
  f.contact("cat@example.com", "CA", "unsubscribed");
  f.contact("dan@example.com", "CA");
  f.contact("eve@example.com", "CA", "pending");
  f.contact("fay@example.com", "CA", "bounced");
  f.contact("gus@example.com", "CA");
  f.suppress("Dan@Example.com");
  f.folders.write_campaign("canada.yaml", kCanada + "schedule: now\n");
  f.reload();
  CHECK(f.tick() == 1);
  CHECK(f.recipients("canada") == std::vector<std::string>{"ann@example.com", "gus@example.com"});
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM sends WHERE state = 'queued'") == 2);
  auto row = f.campaign("canada");
  CHECK(row.state == "running");
  CHECK(row.recipients == 2);
  CHECK(row.started_at == kNow);
  // Started once: another tick starts nothing and queues nobody again.
  CHECK(f.tick() == 0);
  CHECK(f.recipients("canada").size() == 2);
  auto idle = f.scheduler.idle(false);
  REQUIRE(idle);
  CHECK_FALSE(*idle);  // mail is due
}

TEST_CASE("scheduler: a future schedule waits for the clock") {
  SchedulerFixture f;
  f.contact("ann@example.com", "CA");
  f.folders.write_campaign("later.yaml", kCanada + "schedule: 2026-03-01T10:00:00+00:00\n");
  f.reload();
  CHECK(f.tick() == 0);
  CHECK(f.campaign("later").state == "scheduled");
  CHECK(f.recipients("later").empty());
  auto idle = f.scheduler.idle(false);
  REQUIRE(idle);
  CHECK(*idle);
  idle = f.scheduler.idle(true);
  REQUIRE(idle);
  CHECK_FALSE(*idle);

  f.clock.advance_seconds(3599);
  CHECK(f.tick() == 0);
  CHECK(f.recipients("later").empty());
  f.clock.advance_seconds(1);
  CHECK(f.tick() == 1);
  CHECK(f.recipients("later") == std::vector<std::string>{"ann@example.com"});
  CHECK(f.campaign("later").started_at == kNow + 3600);
}

TEST_CASE("scheduler: rescheduling before the start moves it; after the start it does not") {
  SchedulerFixture f;
  f.contact("ann@example.com", "CA");
  f.folders.write_campaign("c.yaml", kCanada + "schedule: 2026-03-05T09:00:00Z\n");
  f.reload();
  CHECK(f.campaign("c").schedule_at == kNow + 4 * 86400);
  f.folders.write_campaign("c.yaml", kCanada + "schedule: 2026-03-01T08:00:00Z\n");
  f.reload();
  CHECK(f.campaign("c").schedule_at == kNow - 3600);
  CHECK(f.tick() == 1);
  f.folders.write_campaign("c.yaml", kCanada + "schedule: 2026-04-01T08:00:00Z\n");
  f.reload();
  CHECK(f.campaign("c").schedule_at == kNow - 3600);
  CHECK(f.campaign("c").state == "running");
}

TEST_CASE("scheduler: editing a running campaign's file re-sends to nobody") {
  SchedulerFixture f;
  f.contact("ann@example.com", "CA");
  f.contact("bob@example.com", "CA");
  f.folders.write_campaign("sale.yaml", kCanada + "schedule: now\n");
  f.reload();
  REQUIRE(f.tick() == 1);
  f.finish_all_sends();  // both mailed
  f.contact("cat@example.com", "CA");  // joins after the start

  f.folders.write_campaign("sale.yaml", kCanada + "schedule: now\nthrottle: 10/s\n# edited subject below\n");
  f.reload();
  CHECK(f.tick() == 0);
  CHECK(f.recipients("sale") == std::vector<std::string>{"ann@example.com", "bob@example.com"});
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM sends WHERE state = 'queued'") == 0);
  // The catalog holds the edited version.
  auto prepared = f.catalog.find(f.campaign("sale").id);
  REQUIRE(prepared);
  CHECK(prepared->campaign.throttle.has_value());
}

TEST_CASE("scheduler: removing a running campaign's file pauses it; restoring it resumes") {
  SchedulerFixture f;
  f.contact("ann@example.com", "CA");
  std::string text = kCanada + "schedule: now\n";
  f.folders.write_campaign("sale.yaml", text);
  f.reload();
  REQUIRE(f.tick() == 1);
  auto id = f.campaign("sale").id;

  f.folders.remove_campaign("sale.yaml");
  f.reload();
  CHECK(f.campaign("sale").state == "paused");
  CHECK_FALSE(f.catalog.find(id));
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM sends WHERE state = 'queued'") == 1);  // kept
  f.finish_all_sends();
  CHECK(f.tick() == 0);
  CHECK(f.campaign("sale").state == "paused");  // a paused campaign is not closed

  f.folders.write_campaign("sale.yaml", text);
  f.reload();
  CHECK(f.campaign("sale").state == "running");
  CHECK(f.campaign("sale").id == id);
  CHECK(f.catalog.find(id));

  // A file that turns invalid pauses the campaign just like a removed one.
  f.folders.write_campaign("sale.yaml", "from: nobody\nsubject: s\ntemplate: promo\n");
  f.reload();
  CHECK(f.campaign("sale").state == "paused");
  CHECK(f.catalog.errors().size() == 1);
}

TEST_CASE("scheduler: a campaign whose sends are all finished is marked done") {
  SchedulerFixture f;
  f.contact("ann@example.com", "CA");
  f.contact("bob@example.com", "CA");
  f.folders.write_campaign("sale.yaml", kCanada + "schedule: now\n");
  f.reload();
  REQUIRE(f.tick() == 1);
  auto id = f.campaign("sale").id;
  CHECK(f.tick() == 0);
  CHECK(f.campaign("sale").state == "running");  // still queued

  REQUIRE(f.store->writer().run([&](const store::Database& db) -> Status {
    store::SendRepository sends(db);
    auto claimed = sends.claim_due(kNow, 10);
    if (!claimed) return std::unexpected(claimed.error());
    if (claimed->size() != 2) return fail("expected two sends");
    if (auto s = sends.mark_sent((*claimed)[0].id, "m1@acme.example", 250, kNow); !s) return s;
    return sends.mark_failed((*claimed)[1].id, 550, "no such user", kNow);
  }));
  f.clock.advance_seconds(60);
  CHECK(f.tick() == 0);
  auto row = f.campaign("sale");
  CHECK(row.state == "done");
  CHECK(row.finished_at == kNow + 60);
  auto counts = store::CampaignRepository(f.reader).send_counts(id);
  REQUIRE(counts);
  CHECK(counts->sent == 1);
  CHECK(counts->failed == 1);
  // A done campaign stays done, even when its file is reloaded.
  f.reload();
  CHECK(f.tick() == 0);
  CHECK(f.campaign("sale").state == "done");
}

TEST_CASE("scheduler: a campaign with no recipients is done at once") {
  SchedulerFixture f;
  f.contact("bob@example.com", "US");
  f.folders.write_campaign("empty.yaml", kCanada + "schedule: now\n");
  f.reload();
  CHECK(f.tick() == 1);
  auto row = f.campaign("empty");
  CHECK(row.recipients == 0);
  CHECK(row.state == "done");
}

TEST_CASE("scheduler: a campaign whose rule vanished before the start fails with the reason") {
  SchedulerFixture f;
  f.contact("ann@example.com", "CA");
  f.folders.write_rule("canadians", "country = \"CA\"");
  f.folders.write_campaign("c.yaml",
                           "from: news@acme.example\nsubject: s\ntemplate: promo\nsegment: canadians\n"
                           "schedule: 2026-03-01T09:30:00Z\n");
  f.reload();
  std::filesystem::remove(f.folders.rules_dir() + "/canadians.yaml");
  f.clock.advance_seconds(1800);
  CHECK(f.tick() == 0);
  auto row = f.campaign("c");
  CHECK(row.state == "failed");
  REQUIRE(row.error);
  CHECK(row.error->find("canadians") != std::string::npos);
  CHECK(f.recipients("c").empty());
}

TEST_CASE("scheduler: a follower loads the leader's files and writes nothing") {
  SchedulerFixture f;  // the leader
  f.contact("ann@example.com", "CA");
  f.folders.write_campaign("sale.yaml", kCanada + "schedule: now\n");
  f.reload();
  REQUIRE(f.tick() == 1);
  auto sale = f.campaign("sale");

  // The follower's copy holds the recorded campaign, one the leader never recorded, and lacks
  // nothing else; the follower's catalog is its own.
  testing::CampaignFolders copy;
  copy.write_template("promo");
  copy.write_campaign("sale.yaml", kCanada + "schedule: now\n");
  copy.write_campaign("unrecorded.yaml", kCanada + "schedule: now\n");
  campaigns::Catalog follower_catalog;
  campaigns::Scheduler follower{*f.store, follower_catalog, f.clock,
                                campaigns::SchedulerPaths{copy.campaigns_dir(), copy.loader_paths(), {}, {}}};
  auto s = follower.reload({copy.campaigns_dir(), copy.templates_dir(), copy.rules_dir()}, campaigns::LoadRole::follower);
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  REQUIRE(follower_catalog.all().size() == 1);
  auto prepared = follower_catalog.find(sale.id);
  REQUIRE(prepared);
  CHECK(prepared->campaign.name == "sale");
  CHECK_FALSE(store::CampaignRepository(f.reader).find("unrecorded").value());

  // A copy without the running campaign leaves it running: only the leader pauses.
  copy.remove_campaign("sale.yaml");
  s = follower.reload({copy.campaigns_dir(), copy.templates_dir(), copy.rules_dir()}, campaigns::LoadRole::follower);
  REQUIRE(s);
  CHECK(follower_catalog.all().empty());
  CHECK(f.campaign("sale").state == "running");
  CHECK(f.campaign("sale").file == sale.file);
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM campaigns") == 1);
}
