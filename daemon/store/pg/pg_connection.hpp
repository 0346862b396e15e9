// RAII over libpq: a connection opened from a postgresql:// URL, results, prepared statements and
// transactions. Errors are values that carry the server's SQLSTATE and message, never the password.
//
// A PgConnection is used by one thread at a time (libpq connections are not shared between
// threads); a node opens one per thread that talks to the database. Parameters are sent as text
// with no declared type, so the server infers each one's type from where it stands when the
// statement is prepared; write a cast (`$3::jsonb`) where it cannot.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::store::pg {

// `postgresql://user:secret@host/db?password=x` -> `postgresql://user:***@host/db?password=***`.
std::string redact_url(std::string_view url);
// The SQLSTATE carried in an error message made here ("postgresql 40001: …"), or "" if none.
std::string sqlstate_of(std::string_view error);

// SQLSTATEs the callers act on.
inline constexpr std::string_view kUniqueViolation = "23505";
inline constexpr std::string_view kSerializationFailure = "40001";
inline constexpr std::string_view kDeadlockDetected = "40P01";
inline constexpr std::string_view kQueryCanceled = "57014";  // also statement_timeout / lock_timeout
inline constexpr std::string_view kLockNotAvailable = "55P03";

// A query's whole result, in memory. Values arrive as text and are converted on access.
class PgResult {
 public:
  PgResult() = default;
  explicit PgResult(PGresult* res) : res_(res) {}

  int rows() const { return res_ ? PQntuples(res_.get()) : 0; }
  int columns() const { return res_ ? PQnfields(res_.get()) : 0; }
  // Rows an INSERT/UPDATE/DELETE touched (also with RETURNING).
  std::int64_t affected() const;
  std::string column_name(int col) const { return PQfname(res_.get(), col); }

  bool is_null(int row, int col) const { return PQgetisnull(res_.get(), row, col) != 0; }
  // NULL reads as 0 / 0.0 / "", as with sqlite3_column_*; booleans read as 1 / 0.
  std::int64_t int64(int row, int col) const;
  double float64(int row, int col) const;
  std::string text(int row, int col) const;
  std::optional<std::string> optional_text(int row, int col) const;
  std::optional<std::int64_t> optional_int64(int row, int col) const;
  // By the column's type: integers and booleans -> int64, float and numeric -> double, NULL ->
  // nullptr, anything else (text, jsonb, …) -> its text.
  SqlValue value(int row, int col) const;

 private:
  struct Clear {
    void operator()(PGresult* r) const { PQclear(r); }
  };
  std::unique_ptr<PGresult, Clear> res_;
};

class PgConnection;

// A statement prepared on the server under a name, with its bound parameters. Binding mirrors
// store::Statement (1-based, chainable); execute() runs it with what is bound and clears the
// bindings, so a cached statement starts clean on its next use.
class PgStatement {
 public:
  PgStatement& bind(int index, std::int64_t v) { return set(index, std::to_string(v)); }
  PgStatement& bind(int index, int v) { return bind(index, static_cast<std::int64_t>(v)); }
  PgStatement& bind(int index, double v);
  PgStatement& bind(int index, std::string_view v) { return set(index, std::string(v)); }
  PgStatement& bind(int index, const char* v) { return bind(index, std::string_view(v)); }
  PgStatement& bind(int index, const std::string& v) { return bind(index, std::string_view(v)); }
  PgStatement& bind(int index, std::nullptr_t) { return set(index, std::nullopt); }
  PgStatement& bind(int index, const SqlValue& v);
  PgStatement& bind(int index, const std::optional<std::string>& v) { return set(index, v); }
  PgStatement& bind(int index, const std::optional<std::int64_t>& v);
  PgStatement& bind_all(const std::vector<SqlValue>& values, int first_index = 1);

  // Fails if a parameter the SQL uses was not bound, or if bind() named one it does not use.
  Result<PgResult> execute();
  // Forgets what is bound (execute() does this too).
  void clear_bindings();
  int parameters() const { return static_cast<int>(values_.size()); }
  const std::string& sql() const { return sql_; }

 private:
  friend class PgConnection;
  PgStatement(PgConnection& conn, std::string name, std::string sql, int parameters);
  PgStatement& set(int index, std::optional<std::string> v);

  PgConnection* conn_ = nullptr;
  std::string name_;
  std::string sql_;  // as translated, for error messages
  std::vector<std::optional<std::string>> values_;
  std::vector<bool> bound_;
  std::optional<int> bad_index_;  // the first out-of-range bind(), reported by execute()
};

class PgConnection {
 public:
  // `url` is postgresql://[user[:password]@][host][:port][/dbname][?param=value&…]. Sets UTF8 and
  // a 10 s connect timeout unless the URL says otherwise. Held by pointer: cached statements
  // point back to their connection, so it never moves.
  static Result<std::unique_ptr<PgConnection>> connect(const std::string& url);

  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Runs one or more statements with no parameters (simple query protocol): migrations, BEGIN.
  Status exec(std::string_view sql);
  // One statement, SQLite markers (`?1`, `?`) or PostgreSQL's (`$1`), parameters bound in order.
  Result<PgResult> query(std::string_view sql, const std::vector<SqlValue>& params = {});
  // Prepared once on the server per connection and reused: the hot paths. Valid while the
  // connection lives; re-prepared after a reconnect.
  Result<PgStatement*> cached(std::string_view sql);

  // After a lost connection (SQLSTATE 08006): reconnects and forgets the prepared statements.
  // Never done behind the caller's back, since the statements after it would silently run
  // outside the transaction the connection lost; call it where a unit of work starts.
  Status reconnect_if_lost();
  // The server or the network dropped the connection.
  bool lost() const { return PQstatus(conn_.get()) == CONNECTION_BAD; }

  // The SQLSTATE of the last failure ("" after a success or a client-side error).
  const std::string& last_sqlstate() const { return last_sqlstate_; }
  bool in_transaction() const;
  const std::string& url() const { return redacted_url_; }  // redacted
  PGconn* handle() const { return conn_.get(); }

 private:
  Status apply_session_settings();
  friend class PgStatement;
  PgConnection() = default;
  // Checks a result; on failure records the SQLSTATE and returns the error text.
  Result<PgResult> check(PGresult* res, std::string_view what);
  std::string scrub(std::string text) const;

  struct Finish {
    void operator()(PGconn* c) const { PQfinish(c); }
  };
  std::unique_ptr<PGconn, Finish> conn_;
  std::string redacted_url_;
  std::string password_;  // scrubbed from every error text
  std::string last_sqlstate_;
  int next_statement_ = 0;
  // Declared after conn_: statements hold a pointer to this connection, never to the PGconn.
  std::unordered_map<std::string, std::unique_ptr<PgStatement>> cache_;
};

// BEGIN on construction; ROLLBACK on destruction unless commit() succeeded.
class PgTransaction {
 public:
  explicit PgTransaction(PgConnection& conn, std::string_view begin = "BEGIN");
  ~PgTransaction();
  PgTransaction(const PgTransaction&) = delete;
  PgTransaction& operator=(const PgTransaction&) = delete;
  const Status& begun() const { return begun_; }
  Status commit();

 private:
  PgConnection& conn_;
  Status begun_;
  bool open_ = false;
};

}  // namespace campaignd::store::pg
