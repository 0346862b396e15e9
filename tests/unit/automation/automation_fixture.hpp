// Test fixture for the automation engine: campaigns/, templates/ and rules/ folders, a real
// store on a temporary file, a ManualClock, and helpers to add contacts and events.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "daemon/automation/automation_engine.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/campaigns/campaign_fixture.hpp"
#include "tests/unit/store/temp_database.hpp"

namespace campaignd::testing {

inline constexpr util::UnixTime kStart = 1'780'000'000;  // 2026-05-28T20:26:40Z

class AutomationFixture {
 public:
  AutomationFixture() : clock(kStart) {
    for (const char* t : {"step-1", "step-2", "step-3", "reply"}) folders.write_template(t);
    reopen();
  }

  // A new Store and engine over the same database file, as after a restart.
  void reopen() {
    engine.reset();
    store.reset();
    auto s = store::Store::open(campaignd::testing::store_target(folders.tmp().file("campaignd.db")));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    store = std::move(*s);
    automation::AutomationSettings settings;
    settings.templates_dir = folders.templates_dir();
    settings.rules_dir = folders.rules_dir();
    settings.our_addresses = {"news@acme.example"};
    engine = std::make_unique<automation::AutomationEngine>(*store, clock, settings);
    if (!files.empty()) REQUIRE(reload().empty());
  }

  std::string add_automation(const std::string& file, const std::string& text) {
    files.push_back(folders.write_campaign(file, text));
    return files.back();
  }
  std::vector<PlacedError> reload() {
    std::vector<PlacedError> errors;
    auto s = engine->reload(files, errors);
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return errors;
  }
  int tick() {
    auto n = engine->tick();
    REQUIRE_MESSAGE(n, (n ? "" : n.error()));
    return *n;
  }

  std::int64_t add_contact(const std::string& email, nlohmann::json attrs = nlohmann::json::object(),
                           const std::string& status = "subscribed") {
    std::int64_t id = 0;
    auto s = store->writer().run([&](const store::Database& db) -> Status {
      store::Contact c;
      c.email = email;
      c.first_name = "Ann";
      c.status = status;
      c.attrs = attrs;
      c.created_at = c.updated_at = clock.now();
      auto r = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
      if (!r) return std::unexpected(r.error());
      id = *r;
      return {};
    });
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return id;
  }
  std::int64_t add_event(const std::string& kind, std::optional<std::int64_t> contact,
                         nlohmann::json data = nlohmann::json::object(), bool machine = false,
                         std::optional<std::int64_t> campaign = std::nullopt) {
    auto s = store->writer().run([&](const store::Database& db) -> Status {
      store::Event e;
      e.kind = kind;
      e.contact_id = contact;
      e.campaign_id = campaign;
      e.at = clock.now();
      e.machine = machine;
      e.data = data;
      return store::EventRepository(db).insert(e);
    });
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return query_int(db(), "SELECT MAX(id) FROM events");
  }
  void exec(const std::string& sql) { exec(sql, sql); }
  // SQL whose text differs between the engines.
  void exec(const std::string& sqlite, const std::string& postgresql) {
    auto s = store->writer().run([&](const store::Database& db) { return db.exec(db.sql(sqlite, postgresql)); });
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  }

  // A fresh reading connection, so every query sees the latest commit.
  const store::Database& db() {
    auto r = store->open_reader();
    REQUIRE(r);
    reader = std::make_unique<store::Database>(std::move(*r));
    return *reader;
  }
  long long count(const std::string& sql) { return query_int(db(), sql); }
  long long sends_for(std::int64_t contact) {
    return count("SELECT COUNT(*) FROM sends WHERE contact_id = " + std::to_string(contact));
  }

  CampaignFolders folders;
  util::ManualClock clock;
  std::vector<std::string> files;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<automation::AutomationEngine> engine;
  std::unique_ptr<store::Database> reader;
};

inline const char* kDrip = R"(name: drip
trigger: subscribed
from: "Acme <hello@acme.example>"
steps:
  - after: 0s
    subject: "Welcome, {{first_name}}"
    template: step-1
  - after: 3d
    subject: "Tips"
    template: step-2
  - after: 1h
    subject: "Offer"
    template: step-3
exit_on: [purchased, replied]
)";

inline const char* kAutoReply = R"(name: responder
trigger: replied
from: "Acme Support <support@acme.example>"
reply_period: 7d
steps:
  - after: 0s
    subject: "We got your message"
    template: reply
)";

}  // namespace campaignd::testing
