#include "daemon/store/sqlite_database.hpp"

#include <filesystem>

#include "daemon/store/send_mix.hpp"
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

// SQL function campaignd_mix(a, b): see send_mix.hpp.
void sql_mix(sqlite3_context* ctx, int, sqlite3_value** argv) {
  sqlite3_result_int64(ctx, campaignd_mix(sqlite3_value_int64(argv[0]), sqlite3_value_int64(argv[1])));
}

class SqliteStatement final : public StatementEngine {
 public:
  explicit SqliteStatement(sqlite3_stmt* stmt) : stmt_(stmt) {}

  void bind_int(int index, std::int64_t v) override { sqlite3_bind_int64(stmt_.get(), index, v); }
  void bind_double(int index, double v) override { sqlite3_bind_double(stmt_.get(), index, v); }
  void bind_text(int index, std::string_view v) override {
    sqlite3_bind_text(stmt_.get(), index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_null(int index) override { sqlite3_bind_null(stmt_.get(), index); }

  Result<bool> step() override {
    int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return fail(std::string("sqlite: ") + sqlite3_errmsg(sqlite3_db_handle(stmt_.get())));
  }
  void reset() override {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
  }

  std::int64_t column_int(int col) const override { return sqlite3_column_int64(stmt_.get(), col); }
  double column_double(int col) const override { return sqlite3_column_double(stmt_.get(), col); }
  std::string column_text(int col) const override {
    auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_.get(), col));
    if (!p) return {};
    return std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), col)));
  }
  bool column_is_null(int col) const override { return sqlite3_column_type(stmt_.get(), col) == SQLITE_NULL; }
  int column_count() const override { return sqlite3_column_count(stmt_.get()); }
  SqlValue column_value(int col) const override {
    switch (sqlite3_column_type(stmt_.get(), col)) {
      case SQLITE_INTEGER: return column_int(col);
      case SQLITE_FLOAT: return column_double(col);
      case SQLITE_NULL: return nullptr;
      default: return column_text(col);
    }
  }

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

}  // namespace

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const std::string& path, OpenMode mode) {
  if (mode == OpenMode::read_write) {
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return fail("cannot create " + parent.string() + ": " + ec.message());
  }
  // SQLite counts every allocation it makes under one process-wide mutex unless told not to;
  // nothing here reads those counts, and an import or the writer allocates per row. Only
  // possible before SQLite initialises, which the first open does.
  static const bool unmetered = sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK;
  (void)unmetered;
  sqlite3* raw = nullptr;
  int flags = SQLITE_OPEN_NOMUTEX |
              (mode == OpenMode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  auto db = std::make_unique<SqliteDatabase>();
  db->db_.reset(raw);
  db->path_ = path;
  if (rc != SQLITE_OK) return fail("cannot open database " + path + ": " + (raw ? sqlite3_errmsg(raw) : "out of memory"));
  sqlite3_busy_timeout(raw, 10000);
  sqlite3_create_function(raw, "suppression_key", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                          sql_suppression_key, nullptr, nullptr);
  sqlite3_create_function(raw, "campaignd_mix", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, nullptr,
                          sql_mix, nullptr, nullptr);
  sqlite3_extended_result_codes(raw, 1);
  if (mode == OpenMode::read_write) {
    // temp_store=MEMORY: an insert that fires the analytics triggers keeps a statement journal,
    // which otherwise goes to a temporary file (a third of the event-ingest cost).
    if (auto s = db->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
                          "PRAGMA temp_store=MEMORY;");
        !s)
      return fail("cannot configure database " + path + ": " + s.error());
  } else {
    if (auto s = db->exec("PRAGMA foreign_keys=ON;"); !s) return std::unexpected(s.error());
  }
  return db;
}

Result<std::unique_ptr<StatementEngine>> SqliteDatabase::prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) return fail(std::string("sqlite prepare: ") + sqlite3_errmsg(db_.get()));
  return std::make_unique<SqliteStatement>(stmt);
}

Status SqliteDatabase::exec(std::string_view sql) {
  char* err = nullptr;
  std::string text(sql);
  if (sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string message = err ? err : sqlite3_errmsg(db_.get());
    sqlite3_free(err);
    return fail("sqlite: " + message);
  }
  return {};
}

}  // namespace campaignd::store
