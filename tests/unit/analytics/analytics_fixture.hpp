// A migrated in-memory database with helpers to add contacts, campaigns, sends and events the
// way the writers do (plain INSERTs: the triggers must do the rest).
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "daemon/store/database.hpp"
#include "daemon/store/migrations.hpp"
#include "daemon/util/clock.hpp"
#include "tests/unit/store/temp_database.hpp"

namespace campaignd::analytics::testing {

inline constexpr util::UnixTime kNow = 1'800'000'000;
inline constexpr std::int64_t kDay = 86400;

struct EventSpec {
  EventSpec() = default;
  EventSpec(std::string kind_, std::optional<std::int64_t> contact_ = {}, std::optional<std::int64_t> campaign_ = {},
            std::optional<std::int64_t> send_ = {}, util::UnixTime at_ = kNow, std::optional<double> amount_ = {},
            int machine_ = 0, std::optional<std::string> key_ = {}, std::string data_ = "{}")
      : kind(std::move(kind_)), contact(contact_), campaign(campaign_), send(send_), at(at_), amount(amount_),
        machine(machine_), key(std::move(key_)), data(std::move(data_)) {}

  std::string kind;
  std::optional<std::int64_t> contact;
  std::optional<std::int64_t> campaign;
  std::optional<std::int64_t> send;
  util::UnixTime at = kNow;
  std::optional<double> amount;
  int machine = 0;
  std::optional<std::string> key;  // provider_event_id
  std::string data = "{}";
};

class Db {
 public:
  Db() : db(*store::Database::open(campaignd::testing::store_target(":memory:"))) { REQUIRE(store::migrate(db)); }

  std::int64_t contact(const std::string& email, util::UnixTime created = kNow) {
    auto stmt = db.prepare("INSERT INTO contacts (email, created_at, updated_at) VALUES (?, ?, ?) RETURNING id");
    REQUIRE(stmt);
    stmt->bind(1, std::string_view(email)).bind(2, created).bind(3, created);
    auto id = stmt->single_int();
    REQUIRE(id);
    REQUIRE(*id);
    return **id;
  }
  std::int64_t campaign(const std::string& name, const std::string& definition = "{}", std::int64_t recipients = 0) {
    auto stmt = db.prepare(
        "INSERT INTO campaigns (name, definition, state, schedule_at, recipients, created_at, updated_at) "
        "VALUES (?, ?, 'done', 0, ?, 0, 0) RETURNING id");
    REQUIRE(stmt);
    stmt->bind(1, std::string_view(name)).bind(2, std::string_view(definition)).bind(3, recipients);
    auto id = stmt->single_int();
    REQUIRE(id);
    REQUIRE(*id);
    return **id;
  }
  std::int64_t send(std::int64_t campaign, std::optional<std::int64_t> contact, const std::string& state) {
    auto stmt = db.prepare("INSERT INTO sends (campaign_id, contact_id, state) VALUES (?, ?, ?) RETURNING id");
    REQUIRE(stmt);
    stmt->bind(1, campaign).bind(2, contact).bind(3, std::string_view(state));
    auto id = stmt->single_int();
    REQUIRE(id);
    REQUIRE(*id);
    return **id;
  }
  // True when the row went in (false: its key was known).
  bool event(const EventSpec& e) {
    auto stmt = db.prepare(
        "INSERT INTO events (kind, contact_id, campaign_id, send_id, at, amount, machine, provider_event_id, "
        "data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
    REQUIRE(stmt);
    stmt->bind(1, std::string_view(e.kind)).bind(2, e.contact).bind(3, e.campaign).bind(4, e.send).bind(5, e.at);
    if (e.amount) stmt->bind(6, *e.amount);
    else stmt->bind(6, nullptr);  // PostgreSQL wants every parameter bound
    stmt->bind(7, e.machine).bind(8, e.key).bind(9, std::string_view(e.data));
    REQUIRE(stmt->run());
    return db.changes() > 0;
  }
  std::int64_t scalar(const std::string& sql) {
    auto stmt = db.prepare(sql);
    REQUIRE(stmt);
    auto row = stmt->step();
    REQUIRE(row);
    REQUIRE(*row);
    return stmt->column_int(0);
  }
  double real(const std::string& sql) {
    auto stmt = db.prepare(sql);
    REQUIRE(stmt);
    auto row = stmt->step();
    REQUIRE(row);
    REQUIRE(*row);
    return stmt->column_double(0);
  }

  store::Database db;
};

}  // namespace campaignd::analytics::testing
