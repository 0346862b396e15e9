// store/store_copy: an SQLite database copied into PostgreSQL (`campaignd migrate-store`) keeps
// every row and id, rebuilds the same analytics aggregates, and continues ids after the largest.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/store_copy.hpp"
#include "daemon/store/suppressions.hpp"
#include "tests/unit/store/temp_database.hpp"
#include "tests/unit/store_pg/pg_test_database.hpp"

using namespace campaignd;

namespace {

std::vector<std::string> rows_of(const store::Database& db, const std::string& sql) {
  auto stmt = db.prepare(sql);
  REQUIRE_MESSAGE(stmt, (stmt ? "" : stmt.error()));
  std::vector<std::string> out;
  auto s = stmt->each([&](const store::Statement& row) {
    std::string line;
    for (int c = 0; c < row.column_count(); ++c) {
      auto v = row.column_value(c);
      if (std::holds_alternative<double>(v)) line += std::to_string(std::get<double>(v)).substr(0, 10);
      else line += row.column_is_null(c) ? "NULL" : row.column_text(c);
      line += "|";
    }
    out.push_back(line);
  });
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  return out;
}

}  // namespace

TEST_CASE("store copy: SQLite into PostgreSQL keeps rows and ids, rebuilds the aggregates" *
          doctest::skip(testing::no_pg())) {
  testing::TempFolder tmp;
  auto lite = store::Database::open("sqlite://" + tmp.file("from.db"));
  REQUIRE(lite);
  REQUIRE(store::migrate(*lite));
  store::ContactRepository contacts(*lite);
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 30; ++i) {
    store::Contact c;
    c.email = "p" + std::to_string(i) + "@example.com";
    c.first_name = "P" + std::to_string(i);
    c.status = i % 7 == 0 ? "unsubscribed" : "subscribed";
    c.attrs = {{"orders", i}, {"country", i % 2 ? "CA" : "US"}, {"vip", i % 3 == 0}};
    c.tags = {"t" + std::to_string(i % 3)};
    c.created_at = c.updated_at = 1000 + i;
    auto id = contacts.upsert_returning_id(c, store::UpsertMode::merge);
    REQUIRE(id);
    ids.push_back(*id);
  }
  REQUIRE(contacts.erase(ids[3]));  // a gap in the ids, kept as it is
  REQUIRE(lite->exec("INSERT INTO campaigns (id, name, definition, state, schedule_at, created_at, updated_at) "
                     "VALUES (5, 'sale', '{\"subject\":\"Hi\"}', 'done', 0, 0, 0)"));
  store::EventRepository events(*lite);
  for (int i = 0; i < 30; ++i) {
    if (i == 3) continue;
    REQUIRE(lite->exec("INSERT INTO sends (campaign_id, contact_id, state, sent_at) VALUES (5, " +
                       std::to_string(ids[i]) + ", 'sent', 2000)"));
    for (const char* kind : {"opened", "clicked", "purchase"}) {
      if ((i + std::string(kind).size()) % 3 == 0) continue;
      store::Event e;
      e.kind = kind;
      e.contact_id = ids[i];
      e.campaign_id = 5;
      e.at = 3000 + i * 60;
      if (std::string(kind) == "purchase") e.amount = 9.5 + i;
      e.data = {{"source", "test"}, {"i", i}};
      REQUIRE(events.insert(e));
    }
  }
  REQUIRE(store::SuppressionRepository(*lite).add("gone@example.com", "manual", 1500));

  testing::PgTestSchema schema;
  auto pg = store::Database::open(testing::with_search_path(testing::pg_test_url(), schema.name()));
  REQUIRE_MESSAGE(pg, (pg ? "" : pg.error()));
  std::vector<std::string> progress;
  auto copied = store::copy_store(*lite, *pg, [&](const std::string& t, std::int64_t) { progress.push_back(t); });
  REQUIRE_MESSAGE(copied, (copied ? "" : copied.error()));
  auto rows_copied = [&](const std::string& table) {
    for (const auto& t : *copied)
      if (t.table == table) return t.rows;
    return std::int64_t{-1};
  };
  CHECK(rows_copied("contacts") == 29);
  CHECK(rows_copied("sends") == 29);
  CHECK(rows_copied("suppressions") == 1);
  CHECK(rows_copied("events") == testing::query_int(*lite, "SELECT COUNT(*) FROM events"));

  for (const char* sql :
       {"SELECT id, email, first_name, status, created_at FROM contacts ORDER BY id",
        "SELECT contact_id, tag FROM contact_tags ORDER BY contact_id, tag",
        "SELECT id, campaign_id, contact_id, state, sent_at FROM sends ORDER BY id",
        "SELECT id, kind, contact_id, campaign_id, at, amount FROM events ORDER BY id",
        "SELECT email_hash, reason FROM suppressions ORDER BY email_hash",
        // Rebuilt by the target's triggers from the events, not copied: the same numbers.
        "SELECT contact_id, last_open_at, last_click_at, first_purchase_at, purchases, revenue, engagement "
        "FROM contact_stats ORDER BY contact_id",
        "SELECT campaign_id, kind, contacts, amount FROM campaign_counts ORDER BY campaign_id, kind",
        "SELECT campaign_id, hour, kind, events, contacts FROM campaign_hourly ORDER BY campaign_id, hour, kind"}) {
    CAPTURE(sql);
    CHECK(rows_of(*lite, sql) == rows_of(*pg, sql));
  }
  // JSON survives as JSON (jsonb on PostgreSQL normalises the text, not the values).
  CHECK(nlohmann::json::parse(testing::query_text(*pg, "SELECT attrs FROM contacts WHERE email = 'p5@example.com'")) ==
        nlohmann::json::parse(testing::query_text(*lite, "SELECT attrs FROM contacts WHERE email = 'p5@example.com'")));
  // New rows continue after the largest copied id.
  auto next = pg->prepare("INSERT INTO contacts (email, created_at, updated_at) VALUES ('new@example.com', 0, 0) RETURNING id");
  REQUIRE(next);
  auto id = next->single_int();
  REQUIRE(id);
  CHECK(**id == ids.back() + 1);
  CHECK(std::find(progress.begin(), progress.end(), "events") != progress.end());

  // A second copy would mix two databases: refused, nothing changed.
  auto again = store::copy_store(*lite, *pg);
  REQUIRE_FALSE(again);
  CHECK(again.error().find("already holds data") != std::string::npos);
  CHECK(testing::query_int(*pg, "SELECT COUNT(*) FROM contacts") == 30);
}
