// SQLite migrations on a database that holds data: migration 9 rebuilds contacts (the email's
// UNIQUE becomes the index contacts_by_email) and keeps ids, references, triggers and indexes.
#include <doctest/doctest.h>

#include <set>

#include "daemon/store/migrations.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

namespace {

store::Database open_sqlite(const std::string& path) {
  auto db = store::Database::open(path);  // a path, not store_target: always SQLite
  REQUIRE_MESSAGE(db, (db ? "" : db.error()));
  return std::move(*db);
}

std::set<std::string> rows_of(const store::Database& db, const std::string& sql) {
  std::set<std::string> out;
  auto stmt = db.prepare(sql);
  REQUIRE_MESSAGE(stmt, (stmt ? "" : stmt.error()));
  REQUIRE(stmt->each([&](const store::Statement& row) {
    std::string text;
    for (int i = 0; i < row.column_count(); ++i) text += (row.column_is_null(i) ? "NULL" : row.column_text(i)) + "|";
    out.insert(text);
  }));
  return out;
}

void exec(const store::Database& db, const std::string& sql) {
  auto s = db.exec(sql);
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
}

}  // namespace

TEST_CASE("migrate_to: stops at the version asked for, and refuses one past the latest") {
  testing::TempFolder tmp;
  auto db = open_sqlite(tmp.file("m.db"));
  REQUIRE(store::migrate_to(db, 3));
  CHECK(testing::query_int(db, "PRAGMA user_version") == 3);
  CHECK(testing::query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'relay_usage'") == 0);
  CHECK_FALSE(store::migrate_to(db, store::latest_schema_version() + 1));
  REQUIRE(store::migrate(db));
  CHECK(testing::query_int(db, "PRAGMA user_version") == store::latest_schema_version());
}

TEST_CASE("migration 9: contacts rebuilt with their ids, tags, sends, events and triggers") {
  testing::TempFolder tmp;
  auto db = open_sqlite(tmp.file("m.db"));
  REQUIRE(store::migrate_to(db, 8));
  // Ids with gaps, as deletions leave them; every table that refers to contacts(id).
  exec(db,
       "INSERT INTO contacts (id, email, first_name, status, attrs, created_at, updated_at, soft_bounces) VALUES "
       "  (3, 'ann@example.com', 'Ann', 'subscribed', '{\"orders\":3}', 10, 11, 0),"
       "  (7, 'ben@example.com', 'Ben', 'bounced', '{}', 12, 13, 2),"
       "  (42, 'cat@example.com', '', 'unsubscribed', '{\"vip\":\"yes\"}', 14, 15, 0);"
       "INSERT INTO contact_tags (contact_id, tag) VALUES (3, 'a'), (3, 'b'), (42, 'a');"
       "INSERT INTO contact_topics (contact_id, topic, subscribed, updated_at) VALUES (7, 'news', 0, 1);"
       "INSERT INTO campaigns (id, name, schedule_at, created_at, updated_at) VALUES (1, 'spring', 0, 0, 0);"
       "INSERT INTO sends (id, campaign_id, contact_id, state) VALUES (100, 1, 3, 'sent'), (101, 1, 42, 'queued');"
       "INSERT INTO events (kind, contact_id, campaign_id, send_id, at, amount) VALUES "
       "  ('opened', 3, 1, 100, 1000, NULL), ('purchase', 42, NULL, NULL, 2000, 9.5);"
       "INSERT INTO enrollments (automation, contact_id, due_at, entered_at) VALUES ('welcome', 7, 0, 0);");
  const std::string contacts_sql =
      "SELECT id, email, first_name, last_name, status, attrs, created_at, updated_at, soft_bounces FROM contacts";
  const std::string references_sql =
      "SELECT 'tag', contact_id, tag FROM contact_tags UNION ALL "
      "SELECT 'topic', contact_id, topic FROM contact_topics UNION ALL "
      "SELECT 'send', contact_id, id FROM sends UNION ALL "
      "SELECT 'event', contact_id, kind FROM events UNION ALL "
      "SELECT 'stats', contact_id, purchases FROM contact_stats UNION ALL "
      "SELECT 'enrollment', contact_id, automation FROM enrollments";
  const std::string schema_sql =
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE type IN ('trigger', 'view') "
      "OR (type = 'index' AND tbl_name <> 'contacts')";
  auto contacts_before = rows_of(db, contacts_sql);
  auto references_before = rows_of(db, references_sql);
  auto schema_before = rows_of(db, schema_sql);
  REQUIRE(references_before.size() == 11);
  const std::string autoindex = "SELECT count(*) FROM sqlite_master WHERE name LIKE 'sqlite_autoindex_contacts%'";
  CHECK(testing::query_int(db, autoindex) == 1);

  REQUIRE(store::migrate_to(db, 9));
  CHECK(testing::query_int(db, "PRAGMA user_version") == 9);
  CHECK(rows_of(db, contacts_sql) == contacts_before);
  CHECK(rows_of(db, references_sql) == references_before);
  CHECK(rows_of(db, schema_sql) == schema_before);  // every trigger and other index, as it was
  CHECK(testing::query_int(db, "SELECT count(*) FROM pragma_foreign_key_check") == 0);
  CHECK(testing::query_text(db, "PRAGMA integrity_check") == "ok");
  CHECK(testing::query_int(db, autoindex) == 0);
  CHECK(testing::query_int(db, "SELECT \"unique\" FROM pragma_index_list('contacts') "
                               "WHERE name = 'contacts_by_email'") == 1);
  CHECK(testing::query_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'contacts_v9'") == 0);

  // The constraints still hold, and the references still point at contacts.
  CHECK_FALSE(db.exec("INSERT INTO contacts (email, created_at, updated_at) VALUES ('ann@example.com', 0, 0)"));
  CHECK_FALSE(
      db.exec("INSERT INTO contacts (email, status, created_at, updated_at) VALUES ('x@example.com', 'gone', 0, 0)"));
  CHECK_FALSE(db.exec("INSERT INTO contact_tags (contact_id, tag) VALUES (999, 'a')"));
  exec(db, "DELETE FROM contacts WHERE id = 3");
  CHECK(testing::query_int(db, "SELECT count(*) FROM contact_tags WHERE contact_id = 3") == 0);    // cascade
  CHECK(testing::query_int(db, "SELECT count(*) FROM events WHERE contact_id = 3") == 0);          // cascade
  CHECK(testing::query_int(db, "SELECT count(*) FROM sends WHERE id = 100 AND contact_id IS NULL") == 1);
  exec(db, "INSERT INTO contacts (email, created_at, updated_at) VALUES ('dan@example.com', 0, 0)");
  CHECK(testing::query_int(db, "SELECT id FROM contacts WHERE email = 'dan@example.com'") == 43);
}

TEST_CASE("migration 10: events lose events_by_send; their rows and other indexes stay") {
  testing::TempFolder tmp;
  auto db = open_sqlite(tmp.file("m.db"));
  REQUIRE(store::migrate_to(db, 9));
  exec(db,
       "INSERT INTO contacts (id, email, created_at, updated_at) VALUES (3, 'ann@example.com', 0, 0);"
       "INSERT INTO campaigns (id, name, schedule_at, created_at, updated_at) VALUES (1, 'spring', 0, 0, 0);"
       "INSERT INTO sends (id, campaign_id, contact_id, state) VALUES (100, 1, 3, 'sent');"
       "INSERT INTO events (kind, contact_id, campaign_id, send_id, at) VALUES ('clicked', 3, 1, 100, 1000);");
  const std::string index = "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ";
  CHECK(testing::query_int(db, index + "'events_by_send'") == 1);
  REQUIRE(store::migrate(db));
  CHECK(testing::query_int(db, "PRAGMA user_version") == 10);
  CHECK(testing::query_int(db, index + "'events_by_send'") == 0);
  CHECK(testing::query_int(db, index + "'events_by_contact'") == 1);
  CHECK(testing::query_int(db, index + "'events_by_campaign'") == 1);
  CHECK(testing::query_int(db, "SELECT count(*) FROM events WHERE send_id = 100") == 1);
  CHECK(testing::query_text(db, "PRAGMA integrity_check") == "ok");
}
