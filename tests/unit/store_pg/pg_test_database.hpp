// A PostgreSQL test database: CAMPAIGND_TEST_PG_URL names the server (scripts/pg-test-cluster.sh
// starts one); each fixture works in a fresh schema of its own, dropped when the test ends, so
// tests never see each other's tables. Without the variable the tests are skipped, not failed.
#pragma once

#include <doctest/doctest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>

#include "daemon/store/pg/pg_connection.hpp"
#include "daemon/store/pg/pg_migrations.hpp"

namespace campaignd::testing {

inline std::string pg_test_url() {
  const char* url = std::getenv("CAMPAIGND_TEST_PG_URL");
  return url ? url : "";
}

// For TEST_CASE("…" * doctest::skip(no_pg())).
inline bool no_pg() { return pg_test_url().empty(); }

class PgTestSchema {
 public:
  PgTestSchema() {
    static std::atomic<int> counter{0};
    schema_ = "campaignd_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    admin_ = connect_raw();
    auto s = admin_->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_);
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  }
  ~PgTestSchema() {
    if (admin_) (void)admin_->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE");
  }
  PgTestSchema(const PgTestSchema&) = delete;
  PgTestSchema& operator=(const PgTestSchema&) = delete;

  // A new connection whose tables are this schema's.
  std::unique_ptr<store::pg::PgConnection> connect() const {
    auto conn = connect_raw();
    auto s = conn->exec("SET search_path TO " + schema_);
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return conn;
  }
  std::unique_ptr<store::pg::PgConnection> connect_migrated() const {
    auto conn = connect();
    auto s = store::pg::pg_migrate(*conn);
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return conn;
  }
  const std::string& name() const { return schema_; }

 private:
  static std::unique_ptr<store::pg::PgConnection> connect_raw() {
    auto conn = store::pg::PgConnection::connect(pg_test_url());
    REQUIRE_MESSAGE(conn, (conn ? "" : conn.error()));
    return std::move(*conn);
  }
  std::string schema_;
  std::unique_ptr<store::pg::PgConnection> admin_;
};

// The first column of the first row of `sql` as text ("" for no row or NULL).
inline std::string pg_text(store::pg::PgConnection& conn, const std::string& sql,
                           const std::vector<store::SqlValue>& params = {}) {
  auto r = conn.query(sql, params);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  return r->rows() > 0 ? r->text(0, 0) : std::string();
}

inline long long pg_int(store::pg::PgConnection& conn, const std::string& sql,
                        const std::vector<store::SqlValue>& params = {}) {
  auto r = conn.query(sql, params);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  return r->rows() > 0 ? r->int64(0, 0) : 0;
}

}  // namespace campaignd::testing
