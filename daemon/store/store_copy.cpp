#include "daemon/store/store_copy.hpp"

#include <algorithm>

#include "daemon/store/migrations.hpp"

namespace campaignd::store {

namespace {

// In an order that satisfies every foreign key.
constexpr const char* kTables[] = {
    "contacts",      "contact_tags", "campaigns",      "sends",          "events",        "suppressions",
    "contact_topics", "webhook_nonces", "autoreplies", "enrollments", "automation_cursor", "rfm_boundaries",
    "ab_decisions",  "relay_usage",  "relay_warmup",
};

Result<std::vector<std::string>> columns_of(const Database& db, const std::string& table) {
  auto stmt = db.prepare(db.sql("SELECT name FROM pragma_table_info(?1) ORDER BY cid",
                                "SELECT column_name FROM information_schema.columns "
                                "WHERE table_schema = current_schema() AND table_name = ?1 ORDER BY ordinal_position"));
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(1, table);
  std::vector<std::string> out;
  auto s = stmt->each([&](const Statement& row) { out.push_back(row.column_text(0)); });
  if (!s) return std::unexpected(s.error());
  if (out.empty()) return fail("table " + table + " not found");
  return out;
}

Result<std::int64_t> count_rows(const Database& db, const std::string& table) {
  auto stmt = db.prepare("SELECT COUNT(*) FROM " + table);
  if (!stmt) return std::unexpected(stmt.error());
  auto n = stmt->single_int();
  if (!n) return std::unexpected(n.error());
  return n->value_or(0);
}

}  // namespace

Result<std::vector<TableCopy>> copy_store(const Database& from, const Database& to,
                                          const std::function<void(const std::string&, std::int64_t)>& progress) {
  if (auto s = migrate(from); !s) return fail("source: " + s.error());
  if (auto s = migrate(to); !s) return fail("target: " + s.error());
  for (const char* table : kTables) {
    auto n = count_rows(to, table);
    if (!n) return fail("target: " + n.error());
    if (*n > 0) return fail("the target already holds data (" + std::to_string(*n) + " rows in " + table +
                            "); migrate-store only fills an empty database");
  }
  Transaction tx(to);
  if (!tx.begun()) return fail("target: " + tx.begun().error());
  std::vector<TableCopy> copied;
  for (const char* table : kTables) {
    // Only the columns both sides have: the target may be a newer schema's superset.
    auto source_columns = columns_of(from, table);
    if (!source_columns) return fail("source: " + source_columns.error());
    auto target_columns = columns_of(to, table);
    if (!target_columns) return fail("target: " + target_columns.error());
    std::vector<std::string> columns;
    for (const auto& c : *source_columns)
      if (std::find(target_columns->begin(), target_columns->end(), c) != target_columns->end()) columns.push_back(c);
    std::string list, markers;
    for (size_t i = 0; i < columns.size(); ++i) {
      list += (i ? ", " : "") + columns[i];
      markers += (i ? ", ?" : "?") + std::to_string(i + 1);
    }
    auto read = from.prepare("SELECT " + list + " FROM " + table);
    if (!read) return fail("source: " + read.error());
    auto write = to.prepare("INSERT INTO " + std::string(table) + " (" + list + ") VALUES (" + markers + ")");
    if (!write) return fail("target: " + write.error());
    TableCopy done{table, 0};
    Status failed;
    auto s = read->each([&](const Statement& row) {
      if (!failed) return;
      for (int i = 0; i < static_cast<int>(columns.size()); ++i) write->bind(i + 1, row.column_value(i));
      if (auto w = write->run(); !w) {
        failed = fail(std::string(table) + " row " + std::to_string(done.rows + 1) + ": " + w.error());
        return;
      }
      if (++done.rows % 50000 == 0 && progress) progress(table, done.rows);
    });
    if (!s) return fail("source: " + s.error());
    if (!failed) return std::unexpected(failed.error());
    if (progress) progress(table, done.rows);
    // Ids were copied as they were: the target's id sequences continue after the largest.
    if (to.is_postgresql() && std::find(columns.begin(), columns.end(), "id") != columns.end()) {
      auto seq = to.prepare(std::string("SELECT setval(s, COALESCE((SELECT MAX(id) FROM ") + table +
                            "), 0) + 1, false) FROM pg_get_serial_sequence('" + table + "', 'id') AS s WHERE s IS NOT NULL");
      if (!seq) return fail("target: " + seq.error());
      if (auto r = seq->run(); !r) return fail("target: " + r.error());
    }
    copied.push_back(done);
  }
  if (auto s = tx.commit(); !s) return fail("target: " + s.error());
  return copied;
}

}  // namespace campaignd::store
