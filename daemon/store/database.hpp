// A database connection, prepared statements and transactions, whatever the engine: SQLite (the
// embedded default) or PostgreSQL (several nodes on one database). Errors are values.
//
// Repositories hold a `Database&` and write SQL in SQLite's dialect with `?N` markers; where the
// engines need different text, they pick it by dialect(). A Database is used by one thread at a
// time. The daemon has one writing connection (owned by WriteQueue) and a reading connection per
// thread that reads; on SQLite, WAL lets them run side by side.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "daemon/util/result.hpp"

struct sqlite3;

namespace campaignd::store {

namespace pg {
class PgConnection;
}

using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

enum class Dialect { sqlite, postgresql };

// A store target naming PostgreSQL (`postgresql://…` or `postgres://…`); anything else is SQLite.
inline bool is_postgresql_url(std::string_view target) {
  return target.starts_with("postgresql://") || target.starts_with("postgres://");
}

// What one engine does for a prepared statement. Indices are 1-based for bindings and 0-based for
// columns, as in SQLite's C API; a NULL column reads as 0 / 0.0 / "".
class StatementEngine {
 public:
  virtual ~StatementEngine() = default;
  virtual void bind_int(int index, std::int64_t v) = 0;
  virtual void bind_double(int index, double v) = 0;
  virtual void bind_text(int index, std::string_view v) = 0;
  virtual void bind_null(int index) = 0;
  // A row -> true, done -> false.
  virtual Result<bool> step() = 0;
  // Ends the current execution and clears the bindings.
  virtual void reset() = 0;
  virtual std::int64_t column_int(int col) const = 0;
  virtual double column_double(int col) const = 0;
  virtual std::string column_text(int col) const = 0;
  virtual bool column_is_null(int col) const = 0;
  virtual SqlValue column_value(int col) const = 0;
  // Columns of the current row (PostgreSQL knows them only once the statement ran).
  virtual int column_count() const = 0;
};

// What one engine does for a connection.
class DatabaseEngine {
 public:
  virtual ~DatabaseEngine() = default;
  virtual Dialect dialect() const = 0;
  virtual Result<std::unique_ptr<StatementEngine>> prepare(std::string_view sql) = 0;
  virtual Status exec(std::string_view sql) = 0;
  // Rows the last INSERT/UPDATE/DELETE changed (not counting rows its triggers changed).
  virtual std::int64_t changes() const = 0;
  virtual bool in_transaction() const = 0;
  // Where this connection goes, without secrets: a file path or a redacted URL.
  virtual std::string describe() const = 0;
  // Whether the server dropped the connection (a file never drops), and opening it again; every
  // statement prepared on the old connection is gone after that.
  virtual bool lost() const { return false; }
  virtual Status reconnect() { return {}; }
};

class Statement {
 public:
  Statement() = default;
  explicit Statement(std::unique_ptr<StatementEngine> engine) : engine_(std::move(engine)) {}

  // Binds by 1-based index. Chainable.
  Statement& bind(int index, std::int64_t v) {
    engine_->bind_int(index, v);
    return *this;
  }
  Statement& bind(int index, int v) { return bind(index, static_cast<std::int64_t>(v)); }
  Statement& bind(int index, double v) {
    engine_->bind_double(index, v);
    return *this;
  }
  Statement& bind(int index, std::string_view v) {
    engine_->bind_text(index, v);
    return *this;
  }
  Statement& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  Statement& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
  Statement& bind(int index, std::nullptr_t) {
    engine_->bind_null(index);
    return *this;
  }
  Statement& bind(int index, const SqlValue& v);
  Statement& bind(int index, const std::optional<std::string>& v);
  Statement& bind(int index, const std::optional<std::int64_t>& v);
  Statement& bind_all(const std::vector<SqlValue>& values, int first_index = 1);

  // A row -> true, done -> false, anything else -> error.
  Result<bool> step() { return engine_->step(); }
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
  void reset() { engine_->reset(); }
  // Runs the statement to its end and returns the first column of its first row as an integer
  // (an INSERT … RETURNING id, a COUNT), or nullopt when it returned no row.
  Result<std::optional<std::int64_t>> single_int();
  // As single_int, for text (a PRAGMA's answer, say).
  Result<std::optional<std::string>> single_text();

  std::int64_t column_int(int col) const { return engine_->column_int(col); }
  double column_double(int col) const { return engine_->column_double(col); }
  std::string column_text(int col) const { return engine_->column_text(col); }
  bool column_is_null(int col) const { return engine_->column_is_null(col); }
  std::optional<std::string> column_optional_text(int col) const;
  SqlValue column_value(int col) const { return engine_->column_value(col); }
  int column_count() const { return engine_->column_count(); }

 private:
  std::unique_ptr<StatementEngine> engine_;
};

enum class OpenMode { read_write, read_only };

class Database {
 public:
  Database() = default;
  explicit Database(std::unique_ptr<DatabaseEngine> engine) : engine_(std::move(engine)) {}

  // `target` is a store URL: `sqlite://PATH`, `postgresql://…` / `postgres://…`, or a bare path
  // (SQLite). SQLite opens (creating the file and its folder if needed) with WAL, synchronous=NORMAL, foreign keys and a
  // busy timeout; PostgreSQL connects with libpq (read_only changes nothing there).
  static Result<Database> open(const std::string& target, OpenMode mode = OpenMode::read_write);

  Dialect dialect() const { return engine_->dialect(); }
  bool is_postgresql() const { return dialect() == Dialect::postgresql; }
  // Picks the text written for this connection's engine.
  std::string_view sql(std::string_view sqlite, std::string_view postgresql) const {
    return is_postgresql() ? postgresql : sqlite;
  }

  Result<Statement> prepare(std::string_view sql) const;
  // A statement prepared once per connection and reused (reset, bindings cleared) on every call:
  // for the per-send and per-event hot paths. The reference stays valid while the Database lives.
  Result<Statement*> cached(std::string_view sql) const;
  // Runs one or more statements with no parameters.
  Status exec(std::string_view sql) const { return engine_->exec(sql); }
  // The statement that opens a write transaction: BEGIN IMMEDIATE on SQLite (take the write lock
  // now, not at the first write, so a busy database fails here), BEGIN on PostgreSQL.
  const char* begin_write_sql() const { return is_postgresql() ? "BEGIN" : "BEGIN IMMEDIATE"; }
  std::int64_t changes() const { return engine_->changes(); }
  bool in_transaction() const { return engine_->in_transaction(); }
  std::string describe() const { return engine_->describe(); }
  // After PostgreSQL dropped the connection (a restart, a failover, an idle timeout): connects
  // again and forgets the cached statements. Call it only where no Statement from cached() is
  // held, at the start of a unit of work (a writer batch, a request, a loop pass).
  Status reconnect_if_lost() const;

  // The engine's own handle, for what only that engine has (SQL functions, traces, migrations);
  // null for the other engine.
  sqlite3* sqlite_handle() const;
  pg::PgConnection* postgresql_connection() const;

 private:
  std::unique_ptr<DatabaseEngine> engine_;
  // Declared after engine_ so the statements are finalized before the connection closes.
  mutable std::unordered_map<std::string, std::unique_ptr<Statement>> cache_;
};

// BEGIN IMMEDIATE (SQLite) / BEGIN (PostgreSQL) on construction; ROLLBACK on destruction unless
// commit() succeeded.
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
