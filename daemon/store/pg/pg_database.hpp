// The PostgreSQL engine behind store::Database: a PgConnection whose statements are prepared on
// the server once per connection, and cursors that walk a statement's result in memory.
#pragma once

#include <memory>
#include <string>

#include "daemon/store/database.hpp"
#include "daemon/store/pg/pg_connection.hpp"

namespace campaignd::store::pg {

class PgDatabase final : public DatabaseEngine {
 public:
  static Result<std::unique_ptr<PgDatabase>> connect(const std::string& url);

  Dialect dialect() const override { return Dialect::postgresql; }
  // Prepared on the server (so a syntax error shows here, as with SQLite), once per text.
  Result<std::unique_ptr<StatementEngine>> prepare(std::string_view sql) override;
  Status exec(std::string_view sql) override;
  std::int64_t changes() const override { return changes_; }
  bool in_transaction() const override { return conn_->in_transaction(); }
  std::string describe() const override { return conn_->url(); }
  bool lost() const override { return conn_->lost(); }
  Status reconnect() override { return conn_->reconnect_if_lost(); }

  PgConnection& connection() { return *conn_; }
  void set_changes(std::int64_t n) { changes_ = n; }

 private:
  std::unique_ptr<PgConnection> conn_;
  std::int64_t changes_ = 0;
};

}  // namespace campaignd::store::pg
