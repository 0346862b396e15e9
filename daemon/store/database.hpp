// RAII over sqlite3: a connection, prepared statements, transactions. Errors are values.
//
// A Database is used by one thread at a time. The daemon has one writing connection (owned by
// WriteQueue) and a reading connection per thread that reads; WAL lets them run side by side.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "daemon/util/result.hpp"

namespace campaignd::store {

using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

class Statement {
 public:
  Statement() = default;
  explicit Statement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  // Binds by 1-based index. Chainable.
  Statement& bind(int index, std::int64_t v);
  Statement& bind(int index, int v) { return bind(index, static_cast<std::int64_t>(v)); }
  Statement& bind(int index, double v);
  Statement& bind(int index, std::string_view v);
  Statement& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  Statement& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
  Statement& bind(int index, std::nullptr_t);
  Statement& bind(int index, const SqlValue& v);
  Statement& bind(int index, const std::optional<std::string>& v);
  Statement& bind(int index, const std::optional<std::int64_t>& v);
  Statement& bind_all(const std::vector<SqlValue>& values, int first_index = 1);

  // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else -> error.
  Result<bool> step();
  // Steps to completion, for statements that return no rows.
  Status run();
  // Calls `row` for every result row, then resets the statement (also on error, so no read
  // snapshot is left open).
  template <typename RowFn>
  Status each(RowFn&& row) {
    while (true) {
      auto r = step();
      if (!r) {
        reset();
        return std::unexpected(r.error());
      }
      if (!*r) break;
      row(*this);
    }
    reset();
    return {};
  }
  void reset();

  std::int64_t column_int(int col) const { return sqlite3_column_int64(stmt_.get(), col); }
  double column_double(int col) const { return sqlite3_column_double(stmt_.get(), col); }
  std::string column_text(int col) const;
  bool column_is_null(int col) const { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  std::optional<std::string> column_optional_text(int col) const;
  SqlValue column_value(int col) const;

  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

enum class OpenMode { read_write, read_only };

class Database {
 public:
  // Opens (creating if needed) with WAL, synchronous=NORMAL, foreign keys and a busy timeout.
  static Result<Database> open(const std::string& path, OpenMode mode = OpenMode::read_write);

  Result<Statement> prepare(std::string_view sql) const;
  // A statement prepared once per connection and reused (reset, bindings cleared) on every call:
  // for the per-send and per-event hot paths. The reference stays valid while the Database lives.
  Result<Statement*> cached(std::string_view sql) const;
  // Runs one or more statements with no parameters.
  Status exec(std::string_view sql) const;
  std::int64_t last_insert_id() const { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const { return sqlite3_changes(db_.get()); }
  std::string error_message() const { return sqlite3_errmsg(db_.get()); }
  sqlite3* handle() const { return db_.get(); }
  const std::string& path() const { return path_; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
  // Declared after db_ so the statements are finalized before the connection closes.
  mutable std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

// BEGIN IMMEDIATE on construction; ROLLBACK on destruction unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(const Database& db);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  const Status& begun() const { return begun_; }
  Status commit();

 private:
  const Database& db_;
  Status begun_;
  bool open_ = false;
};

}  // namespace campaignd::store
