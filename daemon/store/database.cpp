#include "daemon/store/database.hpp"

#include "daemon/store/suppressions.hpp"

namespace campaignd::store {

namespace {

// SQL function suppression_key(email): the key suppressions are stored under, so queries can
// look a contact's suppression up by primary key even after `forget` cleared the address.
void sql_suppression_key(sqlite3_context* ctx, int, sqlite3_value** argv) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  if (!text) {
    sqlite3_result_null(ctx);
    return;
  }
  std::string key = suppression_key(std::string_view(text, static_cast<size_t>(sqlite3_value_bytes(argv[0]))));
  sqlite3_result_text(ctx, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
}

}  // namespace

Statement& Statement::bind(int index, std::int64_t v) {
  sqlite3_bind_int64(stmt_.get(), index, v);
  return *this;
}
Statement& Statement::bind(int index, double v) {
  sqlite3_bind_double(stmt_.get(), index, v);
  return *this;
}
Statement& Statement::bind(int index, std::string_view v) {
  sqlite3_bind_text(stmt_.get(), index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind(int index, std::nullptr_t) {
  sqlite3_bind_null(stmt_.get(), index);
  return *this;
}
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

Result<bool> Statement::step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return fail(std::string("sqlite: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_.get())));
}

Status Statement::run() {
  return each([](const Statement&) {});
}

void Statement::reset() {
  sqlite3_reset(stmt_.get());
  sqlite3_clear_bindings(stmt_.get());
}

std::string Statement::column_text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
  if (!p) return {};
  return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col)));
}

std::optional<std::string> Statement::column_optional_text(int col) const {
  if (column_is_null(col)) return std::nullopt;
  return column_text(col);
}

SqlValue Statement::column_value(int col) const {
  switch (sqlite3_column_type(stmt_.get(), col)) {
    case SQLITE_INTEGER: return column_int(col);
    case SQLITE_FLOAT: return column_double(col);
    case SQLITE_NULL: return nullptr;
    default: return column_text(col);
  }
}

Result<Database> Database::open(const std::string& path, OpenMode mode) {
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX |
              (mode == OpenMode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db;
  db.db_.reset(raw);
  db.path_ = path;
  if (rc != SQLITE_OK) return fail("cannot open database " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_create_function(raw, "suppression_key", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                          sql_suppression_key, nullptr, nullptr);
  sqlite3_extended_result_codes(raw, 1);
  if (mode == OpenMode::read_write) {
    // temp_store=MEMORY: an insert that fires the analytics triggers keeps a statement journal,
    // which otherwise goes to a temporary file (a third of the event-ingest cost).
    if (auto s = db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                         "PRAGMA temp_store=MEMORY;");
        !s)
      return fail("cannot configure database " + path + ": " + s.error());
  } else {
    if (auto s = db.exec("PRAGMA foreign_keys=ON;"); !s) return std::unexpected(s.error());
  }
  return db;
}

Result<Statement> Database::prepare(std::string_view sql) const {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) return fail(std::string("sqlite prepare: ") + sqlite3_errmsg(db_.get()));
  return Statement(stmt);
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

Status Database::exec(std::string_view sql) const {
  char* err = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errmsg(db_.get());
    sqlite3_free(err);
    return fail("sqlite: " + message);
  }
  return {};
}

Transaction::Transaction(const Database& db) : db_(db), begun_(db.exec("BEGIN IMMEDIATE")) { open_ = begun_.has_value(); }

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
