// Copies one campaignd database into another, table by table: how an SQLite database moves to
// PostgreSQL (`campaignd migrate-store --to postgresql://…`). Both are migrated to the latest
// schema first; the target must hold no data yet.
//
// The analytics aggregates (contact_stats, campaign_responses, campaign_counts, campaign_hourly)
// are not copied: the target's triggers rebuild them from the events as they arrive, by the same
// rules. Node rows are not copied either: they describe running processes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "daemon/store/database.hpp"

namespace campaignd::store {

struct TableCopy {
  std::string table;
  std::int64_t rows = 0;
};

// `progress(table, rows so far)` is called now and then during long tables. Everything is one
// transaction on the target: a failure leaves it as it was.
Result<std::vector<TableCopy>> copy_store(const Database& from, const Database& to,
                                          const std::function<void(const std::string&, std::int64_t)>& progress = {});

}  // namespace campaignd::store
