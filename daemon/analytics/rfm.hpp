// RFM: recency, frequency and monetary value of each buyer, scored 1-5 by quintile.
//
// The raw figures are kept per contact by migration 4's triggers as purchase events arrive
// (contact_stats.last_purchase_at, purchases, revenue). Quintiles need the whole population, so
// their four cut points per dimension live in `rfm_boundaries` (one row), recomputed by
// refresh_rfm now and then; segments score a contact at query time from its own row and that
// one. Recency is measured as last_purchase_at, not as days ago, so the cut points do not age
// between refreshes: who bought more recently than whom does not change as time passes.
//
// A score is 1 + the number of cut points the value is strictly above; the cut point k (1..4)
// is the value at rank ceil(k*n/5) (1-based) of the n buyers in ascending order. With distinct
// values each quintile holds a fifth of the buyers; equal values always share a score, the
// lower one (a buyer earns a quintile by beating its boundary). Contacts with no purchase have
// no scores (NULL in segments, nullopt here).
//
// rfm_score = r*100 + f*10 + m (e.g. 545): the RFM "cell" code marketers write; each digit
// stays readable and `rfm_score >= 500` means "bought most recently". rfm_total = r + f + m
// (3..15) ranks by overall value.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::analytics {

struct RfmBoundaries {
  std::array<double, 4> recency{};    // over last_purchase_at (Unix seconds)
  std::array<double, 4> frequency{};  // over the number of purchases
  std::array<double, 4> monetary{};   // over the sum of purchase amounts
  std::int64_t population = 0;        // buyers they were computed from
  util::UnixTime computed_at = 0;
};

struct RfmScores {
  int r = 0, f = 0, m = 0;
  int code() const { return r * 100 + f * 10 + m; }
  int total() const { return r + f + m; }
};

// 1..5 for `value` against four ascending cut points.
int quintile_score(double value, const std::array<double, 4>& cuts);

// Reads contact_stats (one scan and three sorts over the buyers); nullopt when nobody has
// bought. Read-only: run it on a reading connection so the writer is not held meanwhile.
Result<std::optional<RfmBoundaries>> compute_rfm_boundaries(const store::Database& db, util::UnixTime now);
// Replaces the stored boundaries (nullopt clears them). On the writing connection.
Status store_rfm_boundaries(const store::Database& writer_db, const std::optional<RfmBoundaries>& boundaries);
// Both, on one connection: for tests, the CLI and small databases.
Status refresh_rfm(const store::Database& writer_db, util::UnixTime now);

// The stored boundaries; nullopt before the first refresh or with no buyers.
Result<std::optional<RfmBoundaries>> load_rfm_boundaries(const store::Database& db);

}  // namespace campaignd::analytics
