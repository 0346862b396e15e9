// A migrated database in a fresh temporary folder, removed when the test ends.
//
// With CAMPAIGND_TEST_STORE=postgresql (and CAMPAIGND_TEST_PG_URL naming a server, as
// scripts/pg-test-cluster.sh sets it), every test database is a PostgreSQL schema instead: the
// same tests run against both engines (ctest `unit_on_pg`).
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "daemon/store/database.hpp"
#include "daemon/store/migrations.hpp"
#include "daemon/store/pg/pg_connection.hpp"

namespace campaignd::testing {

class TempFolder {
 public:
  TempFolder() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("campaignd-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempFolder(const TempFolder&) = delete;
  TempFolder& operator=(const TempFolder&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(file(name), std::ios::binary) << content;
    return file(name);
  }

 private:
  std::filesystem::path path_;
};

inline bool testing_on_postgresql() {
  const char* store = std::getenv("CAMPAIGND_TEST_STORE");
  return store && std::string_view(store) == "postgresql";
}

// A PostgreSQL URL whose connections see `schema`'s tables.
inline std::string with_search_path(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

// What a test opens for the SQLite file `path`: the path itself, or on PostgreSQL the test
// server's URL with a search_path of a schema of its own, one per path (":memory:" is a new one
// every time), created on first use. The test cluster is thrown away afterwards.
inline std::string store_target(const std::string& path) {
  if (!testing_on_postgresql()) return path;
  const char* server = std::getenv("CAMPAIGND_TEST_PG_URL");
  REQUIRE_MESSAGE(server, "CAMPAIGND_TEST_STORE=postgresql needs CAMPAIGND_TEST_PG_URL");
  static std::atomic<int> memory{0};
  std::string key = path == ":memory:" ? path + std::to_string(memory++) : path;
  // The test process's pid keeps runs apart on a long-lived server; taken once, so a forked child
  // (the crash tests) opens its parent's schema for the same path.
  static const auto pid = ::getpid();
  std::string schema = "t" + std::to_string(pid) + "_" + std::to_string(std::hash<std::string>{}(key) % 1000000007);
  auto admin = store::pg::PgConnection::connect(server);
  REQUIRE_MESSAGE(admin, (admin ? "" : admin.error()));
  auto made = (*admin)->exec("CREATE SCHEMA IF NOT EXISTS " + schema);
  REQUIRE_MESSAGE(made, (made ? "" : made.error()));
  return with_search_path(server, schema);
}

inline store::Database open_migrated(const std::string& path) {
  auto db = store::Database::open(store_target(path));
  REQUIRE_MESSAGE(db, (db ? "" : db.error()));
  auto migrated = store::migrate(*db);
  REQUIRE_MESSAGE(migrated, (migrated ? "" : migrated.error()));
  return std::move(*db);
}

// The first column of the first row of `sql`, as text ("" for no row or NULL).
inline std::string query_text(const store::Database& db, std::string_view sql) {
  auto stmt = db.prepare(sql);
  REQUIRE_MESSAGE(stmt, (stmt ? "" : stmt.error()));
  auto row = stmt->step();
  REQUIRE_MESSAGE(row, (row ? "" : row.error()));
  return *row ? stmt->column_text(0) : std::string();
}

inline long long query_int(const store::Database& db, std::string_view sql) {
  std::string text = query_text(db, sql);
  return text.empty() ? 0 : std::stoll(text);
}

}  // namespace campaignd::testing
