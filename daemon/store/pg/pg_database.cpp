#include "daemon/store/pg/pg_database.hpp"

namespace campaignd::store::pg {

namespace {

// The first step() runs the statement with what is bound and keeps its whole result; later
// steps walk its rows. Statements that return no rows are done after the first step.
class PgCursor final : public StatementEngine {
 public:
  PgCursor(PgDatabase& db, PgStatement& stmt) : db_(db), stmt_(stmt) {}

  void bind_int(int index, std::int64_t v) override { stmt_.bind(index, v); }
  void bind_double(int index, double v) override { stmt_.bind(index, v); }
  void bind_text(int index, std::string_view v) override { stmt_.bind(index, v); }
  void bind_null(int index) override { stmt_.bind(index, nullptr); }

  Result<bool> step() override {
    if (!executed_) {
      auto result = stmt_.execute();
      if (!result) return std::unexpected(result.error());
      result_ = std::move(*result);
      db_.set_changes(result_.affected());
      executed_ = true;
      row_ = -1;
    }
    if (row_ < result_.rows()) ++row_;
    return row_ < result_.rows();
  }
  void reset() override {
    result_ = PgResult();
    executed_ = false;
    row_ = -1;
    stmt_.clear_bindings();
  }

  std::int64_t column_int(int col) const override { return result_.int64(row_, col); }
  double column_double(int col) const override { return result_.float64(row_, col); }
  std::string column_text(int col) const override { return result_.text(row_, col); }
  bool column_is_null(int col) const override { return result_.is_null(row_, col); }
  SqlValue column_value(int col) const override { return result_.value(row_, col); }
  int column_count() const override { return result_.columns(); }

 private:
  PgDatabase& db_;
  PgStatement& stmt_;
  PgResult result_;
  bool executed_ = false;
  int row_ = -1;
};

}  // namespace

Result<std::unique_ptr<PgDatabase>> PgDatabase::connect(const std::string& url) {
  auto conn = PgConnection::connect(url);
  if (!conn) return std::unexpected(conn.error());
  auto db = std::make_unique<PgDatabase>();
  db->conn_ = std::move(*conn);
  return db;
}

Result<std::unique_ptr<StatementEngine>> PgDatabase::prepare(std::string_view sql) {
  auto stmt = conn_->cached(sql);
  if (!stmt) return std::unexpected(stmt.error());
  return std::make_unique<PgCursor>(*this, **stmt);
}

Status PgDatabase::exec(std::string_view sql) {
  changes_ = 0;
  return conn_->exec(sql);
}

}  // namespace campaignd::store::pg
