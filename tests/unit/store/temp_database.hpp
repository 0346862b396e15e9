// A migrated database in a fresh temporary folder, removed when the test ends.
#pragma once

#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

#include "daemon/store/database.hpp"
#include "daemon/store/migrations.hpp"

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

inline store::Database open_migrated(const std::string& path) {
  auto db = store::Database::open(path);
  REQUIRE_MESSAGE(db, (db ? "" : db.error()));
  auto migrated = store::migrate(*db);
  REQUIRE_MESSAGE(migrated, (migrated ? "" : migrated.error()));
  return std::move(*db);
}

// The first column of the first row of `sql`, as text ("" for no row or NULL).
inline std::string query_text(const store::Database& db, const std::string& sql) {
  auto stmt = db.prepare(sql);
  REQUIRE_MESSAGE(stmt, (stmt ? "" : stmt.error()));
  auto row = stmt->step();
  REQUIRE_MESSAGE(row, (row ? "" : row.error()));
  return *row ? stmt->column_text(0) : std::string();
}

inline long long query_int(const store::Database& db, const std::string& sql) {
  std::string text = query_text(db, sql);
  return text.empty() ? 0 : std::stoll(text);
}

}  // namespace campaignd::testing
