// bench: the cost of the analytics aggregates. Fills a database with EVENTS events through
// EventRepository (the path every writer takes), 1,000 per transaction, so the insert rate
// includes migration 4's triggers; then times what /status and the segments read from the
// aggregates, next to the GROUP BY over events that /status ran before them.
//
//   status_bench DB EVENTS [--no-triggers] [--temp-store-memory]
// --no-triggers drops the analytics_* triggers first: the insert rate without them, for the
// before/after ratio. --temp-store-memory sets PRAGMA temp_store = MEMORY on the writing
// connection: an INSERT that fires triggers keeps a statement journal, by default in a temp
// file. Prints `key value` lines; exit 1 on any error. DB must not exist.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/analytics/campaign_counts.hpp"
#include "daemon/analytics/campaign_report.hpp"
#include "daemon/analytics/rfm.hpp"
#include "daemon/segments/compiler.hpp"
#include "daemon/store/database.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/migrations.hpp"

namespace {

using namespace campaignd;
using Clock = std::chrono::steady_clock;

constexpr int kCampaigns = 50;
constexpr int kContacts = 100'000;
constexpr util::UnixTime kNow = 1'800'000'000;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Median wall time of `runs` calls, in milliseconds.
double median_ms(int runs, const std::function<Status()>& fn) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto start = Clock::now();
    if (auto s = fn(); !s) throw std::runtime_error(s.error());
    ms.push_back(seconds_since(start) * 1000);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void check(const Status& s) {
  if (!s) throw std::runtime_error(s.error());
}

void fill(const store::Database& db, std::int64_t events) {
  check(db.exec("BEGIN"));
  for (int i = 1; i <= kCampaigns; ++i)
    check(db.exec("INSERT INTO campaigns (name, state, schedule_at, recipients, created_at, updated_at) VALUES "
                  "('bench-" + std::to_string(i) + "', 'done', 0, 0, 0, 0)"));
  check(db.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
                std::to_string(kContacts) +
                ") INSERT INTO contacts (email, created_at, updated_at) SELECT 'c' || i || '@d' || (i % 500) || "
                "'.example', 0, 0 FROM n"));
  check(db.exec("COMMIT"));

  // A plausible mix: sends and deliveries dominate, then opens (some by scanners), clicks, and a
  // few replies, bounces, unsubscribes, purchases and conversions.
  struct Share {
    const char* kind;
    int per_mille;
  };
  const Share mix[] = {{"sent", 300}, {"delivered", 250}, {"opened", 250}, {"clicked", 100}, {"replied", 20},
                       {"bounced", 20}, {"unsubscribed", 10}, {"purchase", 30}, {"converted", 20}};
  std::uint64_t seed = 42;
  auto next = [&](std::uint64_t n) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return (seed >> 33) % n;
  };
  store::EventRepository repo(db);
  auto start = Clock::now();
  std::clock_t cpu_start = std::clock();
  for (std::int64_t done = 0; done < events;) {
    check(db.exec("BEGIN"));
    for (int k = 0; k < 1000 && done < events; ++k, ++done) {
      auto pick = static_cast<int>(next(1000));
      const char* kind = "sent";
      for (const auto& s : mix) {
        if (pick < s.per_mille) {
          kind = s.kind;
          break;
        }
        pick -= s.per_mille;
      }
      store::Event e;
      e.kind = kind;
      e.contact_id = static_cast<std::int64_t>(1 + next(kContacts));
      if (e.kind != "purchase") e.campaign_id = static_cast<std::int64_t>(1 + next(kCampaigns));
      e.at = kNow - static_cast<std::int64_t>(next(30 * 86400));
      e.machine = (e.kind == "opened" || e.kind == "clicked") && next(10) == 0;
      if (e.kind == "purchase" || e.kind == "converted") e.amount = 5.0 + static_cast<double>(next(200));
      if (e.kind == "clicked") e.data = {{"url", "https://shop.example/p/" + std::to_string(next(8))}};
      check(repo.insert(e));
    }
    check(db.exec("COMMIT"));
  }
  double s = seconds_since(start);
  // CPU time as well: on a shared machine the wall time says more about the neighbours.
  double cpu = static_cast<double>(std::clock() - cpu_start) / CLOCKS_PER_SEC;
  std::cout << "insert_seconds " << s << "\n" << "events_per_second " << static_cast<double>(events) / s << "\n"
            << "insert_cpu_seconds " << cpu << "\n" << "events_per_cpu_second " << static_cast<double>(events) / cpu << "\n";
}

int run(const std::string& path, std::int64_t events, bool triggers, bool temp_store_memory) {
  if (std::filesystem::exists(path)) {
    std::cerr << "status_bench: " << path << " exists\n";
    return 1;
  }
  auto db = store::Database::open(path);
  if (!db) throw std::runtime_error(db.error());
  check(store::migrate(*db));
  if (temp_store_memory) check(db->exec("PRAGMA temp_store = MEMORY"));
  if (!triggers) {
    std::vector<std::string> names;
    auto list = db->prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'analytics%'");
    if (!list) throw std::runtime_error(list.error());
    check(list->each([&](const store::Statement& row) { names.push_back(row.column_text(0)); }));
    for (const auto& t : names) check(db->exec("DROP TRIGGER " + t));
  }
  fill(*db, events);
  std::cout << "events " << events << "\n";
  if (!triggers) return 0;

  auto reader = store::Database::open(path, store::OpenMode::read_only);
  if (!reader) throw std::runtime_error(reader.error());
  std::size_t campaigns = 0;
  std::cout << "status_counts_ms " << median_ms(21, [&]() -> Status {
    auto c = analytics::campaign_response_counts(*reader);
    if (!c) return std::unexpected(c.error());
    campaigns = c->size();
    return {};
  }) << "\n";
  std::cout << "status_campaigns " << campaigns << "\n";
  std::cout << "group_by_over_events_ms " << median_ms(3, [&]() -> Status {
    auto stmt = reader->prepare(
        "SELECT campaign_id, kind, COUNT(DISTINCT contact_id) FROM events "
        "WHERE campaign_id IS NOT NULL AND machine = 0 AND kind <> 'sent' GROUP BY campaign_id, kind");
    if (!stmt) return std::unexpected(stmt.error());
    return stmt->each([](const store::Statement&) {});
  }) << "\n";
  std::cout << "report_one_campaign_ms " << median_ms(3, [&]() -> Status {
    auto r = analytics::campaign_report(*reader, "bench-1");
    if (!r) return std::unexpected(r.error());
    return {};
  }) << "\n";
  std::cout << "refresh_rfm_ms " << median_ms(3, [&]() -> Status { return analytics::refresh_rfm(*db, kNow); }) << "\n";
  for (const char* expression : {"engagement_score >= 3", "opened_within(\"7d\") and not clicked_within(\"30d\")",
                                 "rfm_score >= 400"}) {
    auto compiled = segments::compile_segment(expression, kNow);
    if (!compiled) throw std::runtime_error(compiled.error().message);
    std::int64_t n = 0;
    double ms = median_ms(3, [&]() -> Status {
      auto stmt = reader->prepare("SELECT COUNT(*) FROM contacts c WHERE " + compiled->where_sql);
      if (!stmt) return std::unexpected(stmt.error());
      stmt->bind_all(compiled->params);
      return stmt->each([&](const store::Statement& r) { n = r.column_int(0); });
    });
    std::cout << "segment_ms " << ms << " matches " << n << " for " << expression << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  bool triggers = std::find(args.begin(), args.end(), "--no-triggers") == args.end();
  bool temp_store_memory = std::find(args.begin(), args.end(), "--temp-store-memory") != args.end();
  std::erase(args, "--no-triggers");
  std::erase(args, "--temp-store-memory");
  if (args.size() != 2) {
    std::cerr << "usage: status_bench DB EVENTS [--no-triggers] [--temp-store-memory]\n";
    return 1;
  }
  try {
    return run(args[0], std::stoll(args[1]), triggers, temp_store_memory);
  } catch (const std::exception& e) {
    std::cerr << "status_bench: " << e.what() << "\n";
    return 1;
  }
}
