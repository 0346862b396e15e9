#include "daemon/store/database.hpp"

#include "daemon/store/pg/pg_database.hpp"
#include "daemon/store/sqlite_database.hpp"

namespace campaignd::store {

Statement& Statement::bind(int index, const SqlValue& v) {
  std::visit([&](const auto& x) { bind(index, x); }, v);
  return *this;
}
Statement& Statement::bind(int index, const std::optional<std::string>& v) {
  return v ? bind(index, std::string_view(*v)) : bind(index, nullptr);
}
Statement& Statement::bind(int index, const std::optional<std::int64_t>& v) {
  return v ? bind(index, *v) : bind(index, nullptr);
}
Statement& Statement::bind_all(const std::vector<SqlValue>& values, int first_index) {
  for (size_t i = 0; i < values.size(); ++i) bind(first_index + static_cast<int>(i), values[i]);
  return *this;
}

Status Statement::run() {
  return each([](const Statement&) {});
}

Result<std::optional<std::int64_t>> Statement::single_int() {
  std::optional<std::int64_t> value;
  auto s = each([&](const Statement& row) {
    if (!value && !row.column_is_null(0)) value = row.column_int(0);
  });
  if (!s) return std::unexpected(s.error());
  return value;
}

Result<std::optional<std::string>> Statement::single_text() {
  std::optional<std::string> value;
  auto s = each([&](const Statement& row) {
    if (!value && !row.column_is_null(0)) value = row.column_text(0);
  });
  if (!s) return std::unexpected(s.error());
  return value;
}

std::optional<std::string> Statement::column_optional_text(int col) const {
  if (column_is_null(col)) return std::nullopt;
  return column_text(col);
}

Result<Database> Database::open(const std::string& target, OpenMode mode) {
  if (is_postgresql_url(target)) {
    auto engine = pg::PgDatabase::connect(target);
    if (!engine) return std::unexpected(engine.error());
    return Database(std::move(*engine));
  }
  std::string path = target.starts_with("sqlite://") ? target.substr(9) : target;
  auto engine = SqliteDatabase::open(path, mode);
  if (!engine) return std::unexpected(engine.error());
  return Database(std::move(*engine));
}

Result<Statement> Database::prepare(std::string_view sql) const {
  auto engine = engine_->prepare(sql);
  if (!engine) return std::unexpected(engine.error());
  return Statement(std::move(*engine));
}

Result<Statement*> Database::cached(std::string_view sql) const {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    auto stmt = prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    it = cache_.emplace(std::string(sql), std::make_unique<Statement>(std::move(*stmt))).first;
  } else {
    it->second->reset();
  }
  return it->second.get();
}

Status Database::reconnect_if_lost() const {
  if (!engine_->lost()) return {};
  cache_.clear();  // before the engine drops the statements these refer to
  return engine_->reconnect();
}

sqlite3* Database::sqlite_handle() const {
  auto* sqlite = dynamic_cast<SqliteDatabase*>(engine_.get());
  return sqlite ? sqlite->handle() : nullptr;
}

pg::PgConnection* Database::postgresql_connection() const {
  auto* postgresql = dynamic_cast<pg::PgDatabase*>(engine_.get());
  return postgresql ? &postgresql->connection() : nullptr;
}

Transaction::Transaction(const Database& db) : db_(db), begun_(db.exec(db.begin_write_sql())) {
  open_ = begun_.has_value();
}

Transaction::~Transaction() {
  if (open_) (void)db_.exec("ROLLBACK");
}

Status Transaction::commit() {
  if (!open_) return fail("transaction not open");
  auto s = db_.exec("COMMIT");
  if (s) open_ = false;
  return s;
}

}  // namespace campaignd::store
