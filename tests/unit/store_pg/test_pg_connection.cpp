// store/pg/pg_connection: connecting, typed results, prepared statements, errors with SQLSTATE
// and without the password. Needs CAMPAIGND_TEST_PG_URL (scripts/pg-test-cluster.sh).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/store/pg/pg_connection.hpp"
#include "tests/unit/store_pg/pg_test_database.hpp"

using namespace campaignd;
using namespace campaignd::store::pg;
using campaignd::testing::no_pg;
using campaignd::testing::PgTestSchema;
using campaignd::testing::pg_test_url;

namespace {

// The test URL with its password replaced.
std::string with_password(const std::string& url, const std::string& password) {
  size_t scheme = url.find("://") + 3;
  size_t at = url.rfind('@');
  REQUIRE(at != std::string::npos);
  std::string userinfo = url.substr(scheme, at - scheme);
  std::string user = userinfo.substr(0, userinfo.find(':'));
  return url.substr(0, scheme) + user + ":" + password + url.substr(at);
}

}  // namespace

TEST_CASE("store_pg: PostgreSQL tests need CAMPAIGND_TEST_PG_URL") {
  if (no_pg())
    MESSAGE("PostgreSQL tests skipped: set CAMPAIGND_TEST_PG_URL (scripts/pg-test-cluster.sh run CMD starts a "
            "throwaway server and sets it)");
  CHECK(true);
}

TEST_CASE("pg: redact_url hides passwords, keeps the rest") {
  CHECK(redact_url("postgresql://u:secret@db.example:5432/campaignd") == "postgresql://u:***@db.example:5432/campaignd");
  CHECK(redact_url("postgresql://u@host/db") == "postgresql://u@host/db");
  CHECK(redact_url("postgresql://host") == "postgresql://host");
  CHECK(redact_url("postgresql://u:p%40ss@host/db?sslmode=require&password=x2&application_name=a") ==
        "postgresql://u:***@host/db?sslmode=require&password=***&application_name=a");
  CHECK(redact_url("postgresql://u:a@b@host/db") == "postgresql://u:***@host/db");
  CHECK(redact_url("host=x password=y") == "(not a URL)");
}

TEST_CASE("pg: sqlstate_of reads the code back from an error text") {
  CHECK(sqlstate_of("postgresql 23505: duplicate key") == "23505");
  CHECK(sqlstate_of("migration 3: postgresql 42P07: relation exists") == "42P07");
  CHECK(sqlstate_of("postgresql: parameter 2 not bound") == "");
  CHECK(sqlstate_of("postgresql 2350") == "");
  CHECK(sqlstate_of("") == "");
}

TEST_CASE("pg: a URL that is not postgresql:// is refused without echoing secrets") {
  auto c = PgConnection::connect("sqlite://./var/x.db");
  REQUIRE_FALSE(c);
  CHECK(c.error().find("postgresql://") != std::string::npos);
  auto d = PgConnection::connect("host=127.0.0.1 password=hunter2");
  REQUIRE_FALSE(d);
  CHECK(d.error().find("hunter2") == std::string::npos);
}

TEST_CASE("pg: connection failures carry no password" * doctest::skip(no_pg())) {
  // A port nobody listens on (1 is privileged and unused here).
  auto refused = PgConnection::connect("postgresql://campaignd:Sup3rSecretPw@127.0.0.1:1/campaignd?connect_timeout=2");
  REQUIRE_FALSE(refused);
  CHECK(refused.error().find("Sup3rSecretPw") == std::string::npos);
  CHECK(refused.error().find("postgresql://campaignd:***@127.0.0.1:1/campaignd") != std::string::npos);

  // The real server, the wrong password: the server's message, not the password.
  auto wrong = PgConnection::connect(with_password(pg_test_url(), "Wr0ngPassw0rdXYZ"));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().find("Wr0ngPassw0rdXYZ") == std::string::npos);
  CHECK(wrong.error().find("password authentication failed") != std::string::npos);

  // A malformed URL that libpq refuses to parse.
  auto bad = PgConnection::connect("postgresql://campaignd:An0therSecret@127.0.0.1:notaport/x");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().find("An0therSecret") == std::string::npos);
}

TEST_CASE("pg: exec, query and typed results" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect();
  REQUIRE(conn->exec("CREATE TABLE t (id bigint PRIMARY KEY, name text, score double precision, ok boolean, "
                     "n numeric, doc jsonb)"));
  auto ins = conn->query("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                         {std::int64_t{1}, std::string("Zoë ✉ 'quoted'"), 2.5, std::int64_t{1}, 12.75,
                          std::string(R"({"b": 2, "a": [1, "x"]})")});
  REQUIRE_MESSAGE(ins, (ins ? "" : ins.error()));
  CHECK(ins->affected() == 1);
  REQUIRE(conn->query("INSERT INTO t (id) VALUES (?)", {std::int64_t{2}}));

  auto r = conn->query("SELECT id, name, score, ok, n, doc FROM t ORDER BY id");
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  REQUIRE(r->rows() == 2);
  CHECK(r->columns() == 6);
  CHECK(r->column_name(1) == "name");
  CHECK(r->int64(0, 0) == 1);
  CHECK(r->text(0, 1) == "Zoë ✉ 'quoted'");
  CHECK(r->float64(0, 2) == 2.5);
  CHECK(r->int64(0, 3) == 1);
  CHECK(r->float64(0, 4) == 12.75);
  auto doc = nlohmann::json::parse(r->text(0, 5));
  CHECK(doc["a"][1] == "x");
  // Typed values follow the column's type.
  CHECK(std::get<std::int64_t>(r->value(0, 0)) == 1);
  CHECK(std::get<std::string>(r->value(0, 1)) == "Zoë ✉ 'quoted'");
  CHECK(std::get<double>(r->value(0, 2)) == 2.5);
  CHECK(std::get<std::int64_t>(r->value(0, 3)) == 1);
  CHECK(std::get<double>(r->value(0, 4)) == 12.75);
  // NULLs: flagged, read as zero / empty, optional reads as none.
  CHECK(r->is_null(1, 1));
  CHECK(std::holds_alternative<std::nullptr_t>(r->value(1, 1)));
  CHECK(r->text(1, 1).empty());
  CHECK(r->int64(1, 2) == 0);
  CHECK_FALSE(r->optional_text(1, 1));
  CHECK_FALSE(r->optional_int64(1, 3));
  CHECK(r->optional_int64(0, 0) == 1);

  // Extremes survive the text round trip.
  auto big = conn->query("SELECT ?1::bigint, ?2::bigint, ?3::float8, ?4::float8, ?5::float8",
                         {std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::min(), 0.1,
                          std::numeric_limits<double>::infinity(), std::nan("")});
  REQUIRE_MESSAGE(big, (big ? "" : big.error()));
  CHECK(big->int64(0, 0) == std::numeric_limits<std::int64_t>::max());
  CHECK(big->int64(0, 1) == std::numeric_limits<std::int64_t>::min());
  CHECK(big->float64(0, 2) == 0.1);
  CHECK(std::isinf(big->float64(0, 3)));
  CHECK(std::isnan(big->float64(0, 4)));
  // A NULL parameter.
  CHECK(campaignd::testing::pg_text(*conn, "SELECT COALESCE(?1::text, 'none')", {nullptr}) == "none");
}

TEST_CASE("pg: cached statements are prepared once and start clean each time" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect();
  REQUIRE(conn->exec("CREATE TABLE kv (k text PRIMARY KEY, v bigint)"));
  const char* sql = "INSERT INTO kv (k, v) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET v = kv.v + EXCLUDED.v";
  auto a = conn->cached(sql);
  REQUIRE_MESSAGE(a, (a ? "" : a.error()));
  auto b = conn->cached(sql);
  REQUIRE(b);
  CHECK(*a == *b);
  CHECK((*a)->parameters() == 2);
  for (int i = 1; i <= 5; ++i) {
    auto r = (*a)->bind(1, "x").bind(2, i).execute();
    REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  }
  CHECK(campaignd::testing::pg_int(*conn, "SELECT v FROM kv WHERE k = 'x'") == 15);
  // One prepared statement on the server for the text, however often it ran.
  CHECK(campaignd::testing::pg_int(*conn, "SELECT COUNT(*) FROM pg_prepared_statements WHERE statement LIKE "
                                          "'INSERT INTO kv%'") == 1);

  // Bindings do not leak into the next use: a missing one is an error, not the old value.
  auto missing = (*a)->bind(1, "y").execute();
  REQUIRE_FALSE(missing);
  CHECK(missing.error().find("parameter 2 not bound") != std::string::npos);
  auto out_of_range = (*a)->bind(1, "y").bind(2, 1).bind(3, 1).execute();
  REQUIRE_FALSE(out_of_range);
  CHECK(out_of_range.error().find("parameter 3 is out of range") != std::string::npos);
  auto zero = (*a)->bind(0, 1).bind(1, "y").bind(2, 1).execute();
  REQUIRE_FALSE(zero);
  CHECK(zero.error().find("parameter 0 is out of range 1..2") != std::string::npos);
  // …and the statement still works afterwards.
  REQUIRE((*a)->bind(1, "y").bind(2, 7).execute());
  CHECK(campaignd::testing::pg_int(*conn, "SELECT v FROM kv WHERE k = 'y'") == 7);

  // query() checks the count of values too.
  auto few = conn->query("SELECT ?1, ?2", {std::int64_t{1}});
  REQUIRE_FALSE(few);
  CHECK(few.error().find("1 values for 2 parameters") != std::string::npos);
}

TEST_CASE("pg: server errors carry SQLSTATE and message" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect();
  REQUIRE(conn->exec("CREATE TABLE u (email text UNIQUE)"));
  REQUIRE(conn->query("INSERT INTO u VALUES (?)", {std::string("a@example.com")}));
  auto dup = conn->query("INSERT INTO u VALUES (?)", {std::string("a@example.com")});
  REQUIRE_FALSE(dup);
  CHECK(conn->last_sqlstate() == kUniqueViolation);
  CHECK(sqlstate_of(dup.error()) == "23505");
  CHECK(dup.error().find("duplicate key value violates unique constraint") != std::string::npos);

  auto syntax = conn->exec("SELEC 1");
  REQUIRE_FALSE(syntax);
  CHECK(conn->last_sqlstate() == "42601");
  auto missing = conn->cached("SELECT * FROM no_such_table WHERE x = ?");
  REQUIRE_FALSE(missing);
  CHECK(sqlstate_of(missing.error()) == "42P01");
  CHECK(missing.error().find("no_such_table") != std::string::npos);
  // A failed prepare is not cached: once the table exists the same text prepares.
  REQUIRE(conn->exec("CREATE TABLE no_such_table (x bigint)"));
  CHECK(conn->cached("SELECT * FROM no_such_table WHERE x = ?"));
  // A success clears the last SQLSTATE.
  REQUIRE(conn->exec("SELECT 1"));
  CHECK(conn->last_sqlstate().empty());

  // A bad marker is caught before the server sees it.
  auto named = conn->query("SELECT :x");
  REQUIRE_FALSE(named);
  CHECK(named.error().find("named parameter") != std::string::npos);
}

TEST_CASE("pg: a transaction rolls back unless committed" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect();
  REQUIRE(conn->exec("CREATE TABLE n (v bigint)"));
  {
    PgTransaction tx(*conn);
    REQUIRE(tx.begun());
    CHECK(conn->in_transaction());
    REQUIRE(conn->exec("INSERT INTO n VALUES (1)"));
  }
  CHECK_FALSE(conn->in_transaction());
  CHECK(campaignd::testing::pg_int(*conn, "SELECT COUNT(*) FROM n") == 0);
  {
    PgTransaction tx(*conn);
    REQUIRE(conn->exec("INSERT INTO n VALUES (2)"));
    REQUIRE(tx.commit());
    CHECK_FALSE(tx.commit());  // once only
  }
  CHECK(campaignd::testing::pg_int(*conn, "SELECT SUM(v) FROM n") == 2);
  {
    // A failed statement aborts the transaction: COMMIT then rolls back.
    PgTransaction tx(*conn);
    REQUIRE(conn->exec("INSERT INTO n VALUES (3)"));
    CHECK_FALSE(conn->exec("INSERT INTO n VALUES ('x')"));
    auto c = tx.commit();
    (void)c;
  }
  CHECK(campaignd::testing::pg_int(*conn, "SELECT SUM(v) FROM n") == 2);
}

TEST_CASE("pg: a lost connection is reported, then recovered on request" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto victim = schema.connect();
  auto killer = schema.connect();
  auto pid = campaignd::testing::pg_int(*victim, "SELECT pg_backend_pid()");
  REQUIRE(victim->cached("SELECT 41 + ?1"));
  REQUIRE(campaignd::testing::pg_int(*killer, "SELECT pg_terminate_backend(?1::int)::int", {std::int64_t{pid}}) == 1);
  auto after = victim->query("SELECT 1");
  REQUIRE_FALSE(after);
  CHECK(victim->last_sqlstate().substr(0, 2) == "08");  // class 08: connection exception
  REQUIRE(victim->reconnect_if_lost());
  // The session's settings come back with it: a write never waits on a lock for ever.
  auto timeout = victim->query("SHOW lock_timeout");
  REQUIRE(timeout);
  CHECK(timeout->text(0, 0) == "10s");
  auto again = victim->cached("SELECT 41 + ?1");  // prepared anew on the new session
  REQUIRE_MESSAGE(again, (again ? "" : again.error()));
  auto r = (*again)->bind(1, 1).execute();
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  CHECK(r->int64(0, 0) == 42);
}
