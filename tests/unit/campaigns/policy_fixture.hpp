// Test fixture for the A/B and policy tests: campaign folders, a real store, a driven clock and
// the real scheduler, plus helpers to plant contacts, sends and events with known times.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "daemon/campaigns/scheduler.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/sends.hpp"
#include "tests/unit/campaigns/campaign_fixture.hpp"
#include "tests/unit/store/temp_database.hpp"

namespace campaignd::testing {

inline constexpr util::UnixTime kPolicyNow = 1772355600;  // 2026-03-01T09:00:00Z
inline constexpr std::int64_t kDay = 86400;

struct PolicyFixture {
  CampaignFolders folders;
  std::unique_ptr<store::Store> store = open_store(folders.tmp().file("var/campaignd.db"));
  store::Database reader = open_reader(*store);
  campaigns::Catalog catalog;
  util::ManualClock clock{kPolicyNow};
  campaigns::Scheduler scheduler{*store, catalog, clock,
                                 campaigns::SchedulerPaths{folders.campaigns_dir(), folders.loader_paths(), {}, {}}};

  PolicyFixture() { folders.write_template("promo"); }

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

  std::int64_t contact(const std::string& email, util::UnixTime created_at = kPolicyNow) {
    std::int64_t id = 0;
    REQUIRE(store->writer().run([&](const store::Database& db) -> Status {
      store::Contact c;
      c.email = email;
      c.first_name = email.substr(0, email.find('@'));
      c.created_at = created_at;
      c.updated_at = kPolicyNow;
      auto r = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
      if (!r) return std::unexpected(r.error());
      id = *r;
      return {};
    }));
    return id;
  }
  void event(const std::string& kind, std::int64_t contact_id, util::UnixTime at, bool machine = false,
             std::optional<std::int64_t> campaign_id = std::nullopt) {
    REQUIRE(store->writer().run([&](const store::Database& db) {
      store::Event e;
      e.kind = kind;
      e.contact_id = contact_id;
      e.campaign_id = campaign_id;
      e.at = at;
      e.machine = machine;
      return store::EventRepository(db).insert(e);
    }));
  }
  // A campaigns row of its own (no file), e.g. "news", "_confirm" or "welcome#1".
  std::int64_t campaign_row(const std::string& name) {
    std::int64_t id = 0;
    REQUIRE(store->writer().run([&](const store::Database& db) -> Status {
      auto r = store::CampaignRepository(db).upsert(name, "", "{}", kPolicyNow, kPolicyNow);
      if (!r) return std::unexpected(r.error());
      id = r->id;
      return {};
    }));
    return id;
  }
  // A send of `campaign_id` to the contact in `state`, sent at `sent_at`; returns its id.
  std::int64_t send_row(std::int64_t campaign_id, std::int64_t contact_id, const std::string& state,
                        std::optional<util::UnixTime> sent_at) {
    std::int64_t id = 0;
    REQUIRE(store->writer().run([&](const store::Database& db) -> Status {
      auto stmt = db.prepare("INSERT INTO sends (campaign_id, contact_id, state, sent_at) VALUES (?, ?, ?, ?) RETURNING id");
      if (!stmt) return std::unexpected(stmt.error());
      stmt->bind(1, campaign_id).bind(2, contact_id).bind(3, state);
      if (sent_at) stmt->bind(4, *sent_at);
      else stmt->bind(4, nullptr);
      auto inserted = stmt->single_int();
      if (!inserted) return std::unexpected(inserted.error());
      id = inserted->value_or(0);
      return {};
    }));
    return id;
  }
  void exec(const std::string& sql) {
    auto s = store->writer().run([&](const store::Database& db) { return db.exec(sql); });
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
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
};

}  // namespace campaignd::testing
