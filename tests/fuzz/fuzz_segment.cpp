// Fuzz target: segment expressions. Whatever compiles must also be valid SQL for SQLite, bind
// exactly its parameters and run, against the real migrated schema with a few contacts.
#include <sqlite3.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "daemon/segments/compiler.hpp"
#include "daemon/store/database.hpp"
#include "daemon/store/migrations.hpp"

using namespace campaignd;

namespace {

constexpr util::UnixTime kNow = 1'800'000'000;

[[noreturn]] void die(const std::string& what, std::string_view expression, const std::string& sql) {
  std::fprintf(stderr, "fuzz_segment: %s\nexpression: %.*s\nsql: %s\n", what.c_str(),
               static_cast<int>(expression.size()), expression.data(), sql.c_str());
  std::abort();
}

// Built once: the schema, and contacts whose attrs and events give every operator data to test.
store::Database& database() {
  static store::Database db = [] {
    auto opened = store::Database::open(":memory:");
    if (!opened) die("cannot open :memory: " + opened.error(), "", "");
    if (auto s = store::migrate(*opened); !s) die("migrate: " + s.error(), "", "");
    const char* seed = R"sql(
      INSERT INTO contacts (email, first_name, status, attrs, created_at, updated_at) VALUES
        ('ann@example.com', 'Ann', 'subscribed',
         '{"country":"CA","orders":3,"vip":true,"city":"Toronto","tags":["a","b"],"nested":{"x":1}}', 1700000000, 1700000000),
        ('bob@example.com', 'Bob', 'unsubscribed', '{"country":"US","orders":"1","vip":"false","we\"ird":null}', 0, 0),
        ('cat@example.com', '', 'bounced', '{}', 1800000000, 1800000000);
      INSERT INTO events (contact_id, kind, at) VALUES (1, 'opened', 1799000000), (1, 'clicked', 1799500000),
        (2, 'purchase', 1790000000);
    )sql";
    if (auto s = opened->exec(seed); !s) die("seed: " + s.error(), "", "");
    return std::move(*opened);
  }();
  return db;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view expression(reinterpret_cast<const char*>(data), size);
  store::Database& db = database();

  auto compiled = segments::compile_segment(expression, kNow);
  if (!compiled) {
    const auto& e = compiled.error();
    // The column must point into the expression (or just past its end) for the author to find it.
    if (e.message.empty() || e.col < 1 || static_cast<std::size_t>(e.col) > size + 1)
      die("bad error place: " + e.to_string(), expression, "");
    return 0;
  }

  const std::string sql = "SELECT c.id FROM contacts c WHERE " + compiled->where_sql;
  // sqlite3_prepare directly, for the parameter count that store::Statement does not expose.
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db.sqlite_handle(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr);
  const std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> prepared(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK) die(std::string("invalid SQL: ") + sqlite3_errmsg(db.sqlite_handle()), expression, sql);
  const int wanted = sqlite3_bind_parameter_count(prepared.get());
  if (wanted != static_cast<int>(compiled->params.size()))
    die("SQL has " + std::to_string(wanted) + " parameters, compiler bound " +
            std::to_string(compiled->params.size()),
        expression, sql);
  auto stmt = db.prepare(sql);
  if (!stmt) die("invalid SQL: " + stmt.error(), expression, sql);
  stmt->bind_all(compiled->params);
  for (int rows = 0;; ++rows) {
    auto row = stmt->step();
    if (!row) die("SQL failed at run time: " + row.error(), expression, sql);
    if (!*row) break;
    if (rows > 3) die("more rows than contacts", expression, sql);
  }
  return 0;
}
