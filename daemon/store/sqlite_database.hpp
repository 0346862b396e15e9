// The SQLite engine behind store::Database: one sqlite3 connection and its statements.
#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "daemon/store/database.hpp"

namespace campaignd::store {

class SqliteDatabase final : public DatabaseEngine {
 public:
  // Opens (creating the file and its folder if needed) with WAL, synchronous=NORMAL, foreign keys, a 10 s busy timeout,
  // and campaignd's SQL functions registered.
  static Result<std::unique_ptr<SqliteDatabase>> open(const std::string& path, OpenMode mode);

  Dialect dialect() const override { return Dialect::sqlite; }
  Result<std::unique_ptr<StatementEngine>> prepare(std::string_view sql) override;
  Status exec(std::string_view sql) override;
  std::int64_t changes() const override { return sqlite3_changes(db_.get()); }
  bool in_transaction() const override { return sqlite3_get_autocommit(db_.get()) == 0; }
  std::string describe() const override { return path_; }
  sqlite3* handle() const { return db_.get(); }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
};

}  // namespace campaignd::store
