// store/pg/pg_migrations: PostgreSQL's schema matches SQLite's table for table and column for
// column, its analytics triggers compute what SQLite's do, and several nodes may migrate at once.
// Needs CAMPAIGND_TEST_PG_URL (scripts/pg-test-cluster.sh).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/migrations.hpp"
#include "daemon/store/send_mix.hpp"
#include "daemon/store/pg/pg_migrations.hpp"
#include "daemon/store/suppressions.hpp"
#include "tests/unit/store/temp_database.hpp"
#include "tests/unit/store_pg/pg_test_database.hpp"

using namespace campaignd;
using namespace campaignd::store::pg;
using campaignd::testing::no_pg;
using campaignd::testing::pg_int;
using campaignd::testing::PgTestSchema;

namespace {

using Rows = std::vector<std::vector<std::string>>;

// Always SQLite, also when the suite runs with CAMPAIGND_TEST_STORE=postgresql: the other side
// of each comparison.
store::Database sqlite_migrated(const std::string& path) {
  auto db = store::Database::open("sqlite://" + path);
  REQUIRE_MESSAGE(db, (db ? "" : db.error()));
  auto migrated = store::migrate(*db);
  REQUIRE_MESSAGE(migrated, (migrated ? "" : migrated.error()));
  return std::move(*db);
}

Rows sqlite_rows(const store::Database& db, const std::string& sql) {
  auto stmt = db.prepare(sql);
  REQUIRE_MESSAGE(stmt, (stmt ? "" : stmt.error()));
  Rows out;
  auto s = stmt->each([&](const store::Statement& row) {
    std::vector<std::string> r;
    for (int c = 0; c < row.column_count(); ++c) r.push_back(row.column_is_null(c) ? "NULL" : row.column_text(c));
    out.push_back(std::move(r));
  });
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  return out;
}

Rows pg_rows(PgConnection& conn, const std::string& sql) {
  auto r = conn.query(sql);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  Rows out;
  for (int i = 0; i < r->rows(); ++i) {
    std::vector<std::string> row;
    for (int c = 0; c < r->columns(); ++c) row.push_back(r->is_null(i, c) ? "NULL" : r->text(i, c));
    out.push_back(std::move(row));
  }
  return out;
}

std::set<std::string> column_of(const Rows& rows) {
  std::set<std::string> out;
  for (const auto& r : rows) out.insert(r.at(0));
  return out;
}

// Cell by cell; numbers compare to a relative 1e-9 (the engines print doubles differently).
void check_same_rows(const Rows& a, const Rows& b, const std::string& what) {
  INFO(what);
  REQUIRE(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].size() == b[i].size());
    for (size_t c = 0; c < a[i].size(); ++c) {
      const std::string& x = a[i][c];
      const std::string& y = b[i][c];
      char* ex = nullptr;
      char* ey = nullptr;
      double dx = std::strtod(x.c_str(), &ex);
      double dy = std::strtod(y.c_str(), &ey);
      bool numbers = !x.empty() && !y.empty() && *ex == '\0' && *ey == '\0';
      if (numbers)
        CHECK_MESSAGE(std::fabs(dx - dy) <= 1e-9 * std::max({1.0, std::fabs(dx), std::fabs(dy)}),
                      "row " << i << " column " << c << ": " << x << " vs " << y);
      else
        CHECK_MESSAGE(x == y, "row " << i << " column " << c << ": " << x << " vs " << y);
    }
  }
}

// What migration 7 adds that SQLite does not have yet (its SQLite text is in pg/DESIGN.md).
const std::set<std::string> kPgOnlyColumns = {"sends.lease_owner",  "sends.lease_until", "nodes.id",
                                              "nodes.started_at",   "nodes.heartbeat_at", "nodes.sent",
                                              "nodes.send_rate",    "nodes.leader"};

// A fixed history: five contacts, two campaigns, every kind, machine opens, amounts, times over
// 90 days, out of order unless `in_time_order`. The same text runs on both engines.
std::vector<std::pair<std::string, std::vector<store::SqlValue>>> history(bool in_time_order = false) {
  std::vector<std::pair<std::string, std::vector<store::SqlValue>>> out;
  for (std::int64_t c = 1; c <= 5; ++c)
    out.push_back({"INSERT INTO contacts (id, email, created_at, updated_at) VALUES (?1, ?2, 0, 0)",
                   {c, "c" + std::to_string(c) + "@example.com"}});
  for (std::int64_t k = 1; k <= 2; ++k)
    out.push_back({"INSERT INTO campaigns (id, name, schedule_at, created_at, updated_at) VALUES (?1, ?2, 0, 0, 0)",
                   {k, "campaign-" + std::to_string(k)}});
  const char* kinds[] = {"opened", "clicked", "replied", "purchase", "sent", "unsubscribed", "converted", "delivered"};
  std::uint64_t x = 12345;
  auto next = [&] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return x >> 33;
  };
  for (int i = 0; i < 400; ++i) {
    std::string kind = kinds[next() % 8];
    std::int64_t contact = static_cast<std::int64_t>(next() % 5) + 1;
    store::SqlValue campaign = next() % 4 == 0 ? store::SqlValue(nullptr)
                                               : store::SqlValue(static_cast<std::int64_t>(next() % 2) + 1);
    std::int64_t at = 1700000000 + static_cast<std::int64_t>(next() % (90 * 86400));
    store::SqlValue amount = (kind == "purchase" || kind == "converted")
                                 ? store::SqlValue(static_cast<double>(next() % 10000) / 100.0)
                                 : store::SqlValue(nullptr);
    std::int64_t machine = kind == "opened" && next() % 3 == 0 ? 1 : 0;
    out.push_back({"INSERT INTO events (kind, contact_id, campaign_id, at, amount, machine) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                   {kind, contact, campaign, at, amount, machine}});
  }
  if (in_time_order)
    std::stable_sort(out.begin() + 7, out.end(), [](const auto& x, const auto& y) {
      return std::get<std::int64_t>(x.second[3]) < std::get<std::int64_t>(y.second[3]);
    });
  return out;
}

void run_on_sqlite(const store::Database& db, const std::string& sql, const std::vector<store::SqlValue>& params) {
  auto stmt = db.prepare(sql);
  REQUIRE_MESSAGE(stmt, (stmt ? "" : stmt.error()));
  stmt->bind_all(params);
  auto s = stmt->run();
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
}

void run_on_pg(PgConnection& conn, const std::string& sql, const std::vector<store::SqlValue>& params) {
  auto r = conn.query(sql, params);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
}

const char* kAnalyticsQueries[] = {
    "SELECT contact_id, last_open_at, last_click_at, last_reply_at, first_purchase_at, last_purchase_at, purchases, "
    "revenue, engagement, engagement_at FROM contact_stats ORDER BY contact_id",
    "SELECT contact_id, campaign_id, kind, first_at FROM campaign_responses ORDER BY contact_id, campaign_id, kind",
    "SELECT campaign_id, kind, contacts, amount FROM campaign_counts ORDER BY campaign_id, kind",
    "SELECT campaign_id, hour, kind, events, contacts FROM campaign_hourly ORDER BY campaign_id, hour, kind",
};

std::int64_t mix(std::int64_t seed, std::int64_t id) { return store::campaignd_mix(seed, id); }

}  // namespace

TEST_CASE("pg_migrate: a fresh database gets every version, once" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect();
  auto before = pg_schema_version(*conn);
  REQUIRE(before);
  CHECK(*before == 0);
  auto s = pg_migrate(*conn);
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  CHECK(*pg_schema_version(*conn) == pg_latest_schema_version());
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM campaignd_schema") == pg_latest_schema_version());
  CHECK(pg_int(*conn, "SELECT MIN(applied_at) FROM campaignd_schema") > 1700000000);
  // Again: nothing to do, nothing recorded twice.
  REQUIRE(pg_migrate(*conn));
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM campaignd_schema") == pg_latest_schema_version());
  CHECK_FALSE(pg_migrate_to(*conn, pg_latest_schema_version() + 1));
}

TEST_CASE("pg_migrate: a database newer than this build is refused and left alone" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect_migrated();
  REQUIRE(conn->exec("INSERT INTO campaignd_schema VALUES (99, 0)"));
  auto s = pg_migrate(*conn);
  REQUIRE_FALSE(s);
  CHECK(s.error().find("version 99 is newer") != std::string::npos);
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM campaignd_schema") == pg_latest_schema_version() + 1);
}

TEST_CASE("pg_migrate: a failing migration leaves the version before it" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect();
  REQUIRE(pg_migrate_to(*conn, 2));
  // Make version 3 fail: it adds a constraint whose name is already taken.
  REQUIRE(conn->exec("CREATE TABLE enrollments (x int)"));
  auto s = pg_migrate(*conn);
  REQUIRE_FALSE(s);
  CHECK(s.error().find("migration 3: postgresql 42P07") != std::string::npos);
  CHECK(*pg_schema_version(*conn) == 2);
  // Nothing of version 3 stayed (each version is one transaction).
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() "
                      "AND table_name = 'sends' AND column_name = 'occurrence'") == 0);
}

TEST_CASE("pg_migrate: nodes starting together migrate once" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  constexpr int kNodes = 4;
  std::vector<std::unique_ptr<PgConnection>> conns;
  for (int i = 0; i < kNodes; ++i) conns.push_back(schema.connect());
  std::vector<std::string> errors(kNodes);
  std::vector<std::thread> threads;
  for (int i = 0; i < kNodes; ++i)
    threads.emplace_back([&, i] {
      auto s = pg_migrate(*conns[static_cast<size_t>(i)]);
      if (!s) errors[static_cast<size_t>(i)] = s.error();
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) CHECK_MESSAGE(e.empty(), e);
  CHECK(pg_int(*conns[0], "SELECT COUNT(*) FROM campaignd_schema") == pg_latest_schema_version());
}

TEST_CASE("pg schema: the same tables, columns, indexes and triggers as SQLite's" * doctest::skip(no_pg())) {
  CHECK_MESSAGE(store::latest_schema_version() <= pg_latest_schema_version(),
                "SQLite has migrations PostgreSQL lacks: add their text to pg_migrations.cpp");
  testing::TempFolder tmp;
  auto lite = sqlite_migrated(tmp.file("schema.db"));
  PgTestSchema schema;
  auto conn = schema.connect_migrated();

  auto lite_columns = column_of(sqlite_rows(
      lite, "SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p "
            "WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"));
  auto pg_columns = column_of(pg_rows(
      *conn, "SELECT table_name || '.' || column_name FROM information_schema.columns "
             "WHERE table_schema = current_schema() AND table_name <> 'campaignd_schema'"));
  REQUIRE(lite_columns.size() > 50);
  for (const auto& c : lite_columns) CHECK_MESSAGE(pg_columns.count(c) == 1, "missing in PostgreSQL: " << c);
  for (const auto& c : pg_columns)
    CHECK_MESSAGE((lite_columns.count(c) == 1 || kPgOnlyColumns.count(c) == 1), "not in SQLite: " << c);

  auto lite_indexes = column_of(sqlite_rows(
      lite, "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'"));
  auto pg_indexes = column_of(pg_rows(*conn, "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"));
  for (const auto& i : lite_indexes) CHECK_MESSAGE(pg_indexes.count(i) == 1, "index missing in PostgreSQL: " << i);

  auto lite_triggers = column_of(sqlite_rows(lite, "SELECT name FROM sqlite_master WHERE type = 'trigger'"));
  auto pg_triggers = column_of(pg_rows(
      *conn, "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
             "WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"));
  CHECK(lite_triggers.size() == 6);
  CHECK(lite_triggers == pg_triggers);

  // Constraints hold as in SQLite.
  CHECK_FALSE(conn->exec("INSERT INTO contacts (email, status, created_at, updated_at) VALUES ('a@x', 'gone', 0, 0)"));
  CHECK(conn->last_sqlstate() == "23514");  // check_violation
  CHECK_FALSE(conn->exec("INSERT INTO contacts (email, attrs, created_at, updated_at) VALUES ('a@x', '[1]', 0, 0)"));
  CHECK_FALSE(conn->exec("INSERT INTO sends (campaign_id, contact_id) VALUES (12345, NULL)"));
  CHECK(conn->last_sqlstate() == "23503");  // foreign_key_violation
}

TEST_CASE("pg schema: the analytics triggers compute what SQLite's do" * doctest::skip(no_pg())) {
  testing::TempFolder tmp;
  auto lite = sqlite_migrated(tmp.file("analytics.db"));
  PgTestSchema schema;
  auto conn = schema.connect_migrated();
  for (const auto& [sql, params] : history()) {
    run_on_sqlite(lite, sql, params);
    run_on_pg(*conn, sql, params);
  }
  REQUIRE(pg_int(*conn, "SELECT COUNT(*) FROM contact_stats") >= 4);
  REQUIRE(pg_int(*conn, "SELECT COUNT(*) FROM campaign_hourly") > 20);
  for (const char* q : kAnalyticsQueries) check_same_rows(sqlite_rows(lite, q), pg_rows(*conn, q), q);

  // Forgetting a contact: its events and responses go (cascade) and the counts follow.
  run_on_sqlite(lite, "DELETE FROM contacts WHERE id = ?1", {std::int64_t{2}});
  run_on_pg(*conn, "DELETE FROM contacts WHERE id = ?1", {std::int64_t{2}});
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM campaign_responses WHERE contact_id = 2") == 0);
  for (const char* q : kAnalyticsQueries) check_same_rows(sqlite_rows(lite, q), pg_rows(*conn, q), q);
}

TEST_CASE("pg schema: migration 4's backfill equals what the triggers keep" * doctest::skip(no_pg())) {
  PgTestSchema before;  // events first, then the analytics migration
  auto a = before.connect();
  REQUIRE(pg_migrate_to(*a, 3));
  PgTestSchema after;  // analytics first, then the events
  auto b = after.connect_migrated();
  // In time order: the triggers record a response's first arrival, the backfill its earliest time.
  for (const auto& [sql, params] : history(true)) {
    run_on_pg(*a, sql, params);
    run_on_pg(*b, sql, params);
  }
  auto s = pg_migrate(*a);
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  for (const char* q : kAnalyticsQueries) check_same_rows(pg_rows(*a, q), pg_rows(*b, q), q);
}

TEST_CASE("pg schema: suppression_key() and campaignd_mix() agree with the C++ ones" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect_migrated();
  for (std::string email : {"a@example.com", "  Mixed.Case@Example.COM\t\n", "\x0b\fUPPER@X.ORG\r", "Zoë@Straße.de",
                            "ÉLAN@EXAMPLE.COM", "", "   "}) {
    INFO(email);
    CHECK(campaignd::testing::pg_text(*conn, "SELECT suppression_key(?1)", {email}) == store::suppression_key(email));
  }
  CHECK(campaignd::testing::pg_text(*conn, "SELECT COALESCE(suppression_key(NULL), 'null')") == "null");

  std::vector<std::int64_t> values = {0, 1, 2, 42, 1000003, -1, -42, std::numeric_limits<std::int64_t>::max(),
                                      std::numeric_limits<std::int64_t>::min()};
  for (auto seed : values)
    for (auto id : values) {
      INFO("seed " << seed << " id " << id);
      CHECK(pg_int(*conn, "SELECT campaignd_mix(?1, ?2)", {seed, id}) == mix(seed, id));
    }
}
