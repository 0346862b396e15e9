// bench (b): times list generation, the step Scheduler::start takes when a campaign starts:
// resolve the segment through the RuleBook, then one writer job that runs
// SendRepository::enqueue_matching and marks the campaign started. The exact INSERT it ran,
// with its bound values expanded (sqlite3_expanded_sql), is written out so the bench can run the
// same statement in the sqlite3 shell as the reference.
//
//   segment_bench DB RULES_DIR EXPRESSION SQL_OUT
// prints `campaign ID recipients N seconds S` on stdout; exit 1 on any error.
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/segments/rule_book.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/clock.hpp"

namespace {

using namespace campaignd;

// sqlite3_trace_v2 callback: keeps the expanded text of the statement that fills the queue.
int capture_insert(unsigned type, void* out, void* stmt, void*) {
  if (type != SQLITE_TRACE_STMT) return 0;
  char* sql = sqlite3_expanded_sql(static_cast<sqlite3_stmt*>(stmt));
  if (!sql) return 0;
  std::string text(sql);
  sqlite3_free(sql);
  // The enqueue is the one INSERT into sends that selects its rows (enqueue_one binds VALUES).
  if (text.starts_with("INSERT INTO sends") && text.find(" SELECT ") != std::string::npos)
    *static_cast<std::string*>(out) = text;
  return 0;
}

int run(const std::string& db_path, const std::string& rules_dir, const std::string& expression,
        const std::string& sql_out) {
  util::SystemClock clock;
  auto store = store::Store::open(db_path);
  if (!store) {
    std::cerr << "segment_bench: " << store.error() << "\n";
    return 1;
  }
  util::UnixTime now = clock.now();
  std::int64_t campaign_id = 0;
  auto made = (*store)->writer().run([&](const store::Database& db) -> Status {
    auto row = store::CampaignRepository(db).upsert("bench-segment", "", "{}", now, now);
    if (!row) return std::unexpected(row.error());
    campaign_id = row->id;
    return {};
  });
  if (!made) {
    std::cerr << "segment_bench: " << made.error() << "\n";
    return 1;
  }

  auto started = std::chrono::steady_clock::now();
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(rules_dir, rule_errors);
  if (!rules) {
    std::cerr << "segment_bench: " << rules.error() << "\n";
    return 1;
  }
  auto segment = rules->resolve(expression, now, SourcePlace{"<bench>", 1, 1});
  if (!segment) {
    std::cerr << "segment_bench: " << segment.error().to_string() << "\n";
    return 1;
  }
  std::int64_t recipients = 0;
  std::string insert_sql;
  auto s = (*store)->writer().run([&](const store::Database& db) -> Status {
    sqlite3_trace_v2(db.sqlite_handle(), SQLITE_TRACE_STMT, capture_insert, &insert_sql);
    auto n = store::SendRepository(db).enqueue_matching(campaign_id, segment->where_sql, segment->params,
                                                        std::nullopt);
    sqlite3_trace_v2(db.sqlite_handle(), 0, nullptr, nullptr);
    if (!n) return std::unexpected(n.error());
    recipients = *n;
    return store::CampaignRepository(db).mark_started(campaign_id, recipients, now);
  });
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  (*store)->writer().stop();
  if (!s) {
    std::cerr << "segment_bench: " << s.error() << "\n";
    return 1;
  }
  if (insert_sql.empty()) {
    std::cerr << "segment_bench: no INSERT INTO sends ... SELECT was traced: update capture_insert\n";
    return 1;
  }
  std::ofstream(sql_out) << insert_sql << ";\n";
  std::cout << "campaign " << campaign_id << " recipients " << recipients << " seconds " << seconds << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: segment_bench DB RULES_DIR EXPRESSION SQL_OUT\n";
    return 1;
  }
  return run(argv[1], argv[2], argv[3], argv[4]);
}
