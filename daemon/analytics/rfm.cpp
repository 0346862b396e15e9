// Quintile cut points over contact_stats, and scoring against them.
#include "daemon/analytics/rfm.hpp"

#include <string>

namespace campaignd::analytics {

namespace {

// The cut points of one column: the values at ranks ceil(k*n/5), k = 1..4, streamed in order.
Result<std::array<double, 4>> cut_points(const store::Database& db, const std::string& column, std::int64_t n) {
  std::array<std::int64_t, 4> ranks{};  // 0-based
  for (int k = 1; k <= 4; ++k) ranks[static_cast<size_t>(k - 1)] = (k * n + 4) / 5 - 1;
  auto stmt = db.prepare("SELECT " + column + " FROM contact_stats WHERE purchases > 0 ORDER BY 1");
  if (!stmt) return std::unexpected(stmt.error());
  std::array<double, 4> cuts{};
  std::int64_t rank = 0;
  size_t next = 0;
  while (next < ranks.size()) {
    auto row = stmt->step();
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail("contact_stats changed while the RFM boundaries were read");
    while (next < ranks.size() && ranks[next] == rank) cuts[next++] = stmt->column_double(0);
    ++rank;
  }
  return cuts;
}

}  // namespace

int quintile_score(double value, const std::array<double, 4>& cuts) {
  int score = 1;
  for (double cut : cuts)
    if (value > cut) ++score;
  return score;
}

Result<std::optional<RfmBoundaries>> compute_rfm_boundaries(const store::Database& db, util::UnixTime now) {
  // One read transaction, so the count and the three sorts see the same rows (inside a writer
  // job the job's own transaction already is one).
  const bool own_transaction = !db.in_transaction();
  if (own_transaction)
    if (auto s = db.exec("BEGIN"); !s) return std::unexpected(s.error());
  auto result = [&]() -> Result<std::optional<RfmBoundaries>> {
    auto count = db.prepare("SELECT COUNT(*) FROM contact_stats WHERE purchases > 0");
    if (!count) return std::unexpected(count.error());
    auto row = count->step();
    if (!row) return std::unexpected(row.error());
    RfmBoundaries b;
    b.population = count->column_int(0);
    b.computed_at = now;
    if (b.population == 0) return std::optional<RfmBoundaries>();
    auto r = cut_points(db, "last_purchase_at", b.population);
    if (!r) return std::unexpected(r.error());
    auto f = cut_points(db, "purchases", b.population);
    if (!f) return std::unexpected(f.error());
    auto m = cut_points(db, "revenue", b.population);
    if (!m) return std::unexpected(m.error());
    b.recency = *r;
    b.frequency = *f;
    b.monetary = *m;
    return std::optional<RfmBoundaries>(b);
  }();
  if (!own_transaction) return result;
  if (auto s = db.exec("COMMIT"); !s) {
    (void)db.exec("ROLLBACK");
    if (result) return std::unexpected(s.error());
  }
  return result;
}

Status store_rfm_boundaries(const store::Database& writer_db, const std::optional<RfmBoundaries>& b) {
  if (!b) return writer_db.exec("DELETE FROM rfm_boundaries");
  auto stmt = writer_db.prepare(
      "INSERT INTO rfm_boundaries (id, r1, r2, r3, r4, f1, f2, f3, f4, m1, m2, m3, m4, population, computed_at) "
      "VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET r1 = excluded.r1, "
      "r2 = excluded.r2, r3 = excluded.r3, r4 = excluded.r4, f1 = excluded.f1, f2 = excluded.f2, f3 = excluded.f3, "
      "f4 = excluded.f4, m1 = excluded.m1, m2 = excluded.m2, m3 = excluded.m3, m4 = excluded.m4, "
      "population = excluded.population, computed_at = excluded.computed_at");
  if (!stmt) return std::unexpected(stmt.error());
  int i = 1;
  for (const auto* cuts : {&b->recency, &b->frequency, &b->monetary})
    for (double v : *cuts) stmt->bind(i++, v);
  stmt->bind(13, b->population).bind(14, b->computed_at);
  return stmt->run();
}

Status refresh_rfm(const store::Database& writer_db, util::UnixTime now) {
  auto b = compute_rfm_boundaries(writer_db, now);
  if (!b) return std::unexpected(b.error());
  return store_rfm_boundaries(writer_db, *b);
}

Result<std::optional<RfmBoundaries>> load_rfm_boundaries(const store::Database& db) {
  auto stmt = db.prepare(
      "SELECT r1, r2, r3, r4, f1, f2, f3, f4, m1, m2, m3, m4, population, computed_at FROM rfm_boundaries "
      "WHERE id = 1");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::optional<RfmBoundaries>();
  RfmBoundaries b;
  int col = 0;
  for (auto* cuts : {&b.recency, &b.frequency, &b.monetary})
    for (double& v : *cuts) v = stmt->column_double(col++);
  b.population = stmt->column_int(12);
  b.computed_at = stmt->column_int(13);
  return std::optional<RfmBoundaries>(b);
}

}  // namespace campaignd::analytics
