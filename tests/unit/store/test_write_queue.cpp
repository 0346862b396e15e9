// store/write_queue: order, per-job rollback, durability before the future resolves, threads, stop.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/write_queue.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using store::Database;
using store::WriteQueue;

namespace {

// A queue over a fresh database with a scratch table `t(seq)`.
struct QueueFixture {
  testing::TempFolder tmp;
  std::string path = tmp.file("q.db");
  WriteQueue queue{make_db(path)};

  static Database make_db(const std::string& path) {
    auto db = testing::open_migrated(path);
    auto made = db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL UNIQUE)");
    REQUIRE(made);
    return db;
  }
  Database reader() const {
    auto db = Database::open(path);
    REQUIRE(db);
    return std::move(*db);
  }
};

WriteQueue::Job insert(int seq) {
  return [seq](const Database& db) -> Status {
    auto stmt = db.cached("INSERT INTO t (seq) VALUES (?)");
    if (!stmt) return std::unexpected(stmt.error());
    return (*stmt)->bind(1, seq).run();
  };
}

std::vector<long long> seqs(const Database& db) {
  auto stmt = db.prepare("SELECT seq FROM t ORDER BY id");
  REQUIRE(stmt);
  std::vector<long long> out;
  while (true) {
    auto row = stmt->step();
    REQUIRE(row);
    if (!*row) break;
    out.push_back(stmt->column_int(0));
  }
  return out;
}

}  // namespace

TEST_CASE("write queue: jobs run in the order they were submitted") {
  QueueFixture f;
  std::vector<std::future<Status>> done;
  for (int i = 0; i < 300; ++i) done.push_back(f.queue.submit(insert(i)));
  for (auto& d : done) CHECK(d.get());
  auto got = seqs(f.reader());
  REQUIRE(got.size() == 300);
  for (int i = 0; i < 300; ++i) CHECK(got[static_cast<size_t>(i)] == i);
}

TEST_CASE("write queue: a failing job rolls back alone; the rest of its batch commits") {
  QueueFixture f;
  // Hold the writer so the next jobs pile up and run as one batch.
  std::promise<void> release;
  auto gate = release.get_future().share();
  std::promise<void> holding;
  auto blocker = f.queue.submit([&, gate](const Database&) -> Status {
    holding.set_value();
    gate.wait();
    return {};
  });
  holding.get_future().wait();
  auto ok1 = f.queue.submit(insert(1));
  auto bad = f.queue.submit([](const Database& db) -> Status {
    if (auto s = insert(2)(db); !s) return s;
    return fail("job two changed its mind");
  });
  auto ok3 = f.queue.submit(insert(3));
  auto sql_error = f.queue.submit([](const Database& db) -> Status {
    if (auto s = insert(4)(db); !s) return s;
    return insert(1)(db);  // UNIQUE violation: the insert of 4 goes too
  });
  auto threw = f.queue.submit([](const Database& db) -> Status {
    (void)insert(5)(db);
    throw std::runtime_error("boom");
  });
  auto ok6 = f.queue.submit(insert(6));
  CHECK(f.queue.pending() == 6);
  release.set_value();

  CHECK(blocker.get());
  CHECK(ok1.get());
  auto bad_status = bad.get();
  REQUIRE_FALSE(bad_status);
  CHECK(bad_status.error() == "job two changed its mind");
  CHECK(ok3.get());
  auto sql_status = sql_error.get();
  REQUIRE_FALSE(sql_status);
  CHECK(sql_status.error().find("UNIQUE") != std::string::npos);
  auto threw_status = threw.get();
  REQUIRE_FALSE(threw_status);
  CHECK(threw_status.error().find("boom") != std::string::npos);
  CHECK(ok6.get());
  CHECK(seqs(f.reader()) == std::vector<long long>{1, 3, 6});
}

TEST_CASE("write queue: the future resolves after the commit, visible to another connection") {
  QueueFixture f;
  auto reader = f.reader();
  for (int i = 0; i < 50; ++i) {
    REQUIRE(f.queue.submit(insert(i)).get());
    CHECK(testing::query_int(reader, "SELECT COUNT(*) FROM t") == i + 1);
  }
  CHECK(f.queue.run(insert(1000)));
  CHECK(testing::query_int(reader, "SELECT MAX(seq) FROM t") == 1000);
  auto failed = f.queue.run([](const Database&) -> Status { return fail("nope"); });
  REQUIRE_FALSE(failed);
  CHECK(failed.error() == "nope");
}

TEST_CASE("write queue: many threads submitting at once") {
  QueueFixture f;
  constexpr int kThreads = 8, kEach = 150;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<std::future<Status>> mine;
      for (int i = 0; i < kEach; ++i) mine.push_back(f.queue.submit(insert(t * kEach + i)));
      for (auto& d : mine)
        if (d.get()) ++ok;
    });
  for (auto& t : threads) t.join();
  CHECK(ok == kThreads * kEach);
  auto reader = f.reader();
  CHECK(testing::query_int(reader, "SELECT COUNT(DISTINCT seq) FROM t") == kThreads * kEach);
  // Each thread's own jobs stay in its order.
  for (int t = 0; t < kThreads; ++t) {
    auto stmt = reader.prepare("SELECT seq FROM t WHERE seq / ? = ? ORDER BY id");
    REQUIRE(stmt);
    stmt->bind(1, kEach).bind(2, t);
    long long last = -1;
    while (*stmt->step()) {
      CHECK(stmt->column_int(0) > last);
      last = stmt->column_int(0);
    }
  }
}

TEST_CASE("write queue: stop() runs everything queued, then refuses new work") {
  QueueFixture f;
  std::vector<std::future<Status>> done;
  for (int i = 0; i < 200; ++i) {
    if (i % 2) f.queue.post(insert(i));
    else done.push_back(f.queue.submit(insert(i)));
  }
  f.queue.stop();
  CHECK(f.queue.pending() == 0);
  for (auto& d : done) {
    REQUIRE(d.wait_for(std::chrono::seconds(0)) == std::future_status::ready);
    CHECK(d.get());
  }
  CHECK(testing::query_int(f.reader(), "SELECT COUNT(*) FROM t") == 200);
  auto late = f.queue.submit(insert(999));
  REQUIRE(late.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  auto status = late.get();
  REQUIRE_FALSE(status);
  CHECK(status.error() == "write queue stopped");
  f.queue.post(insert(998));
  f.queue.stop();  // idempotent
  CHECK(testing::query_int(f.reader(), "SELECT COUNT(*) FROM t WHERE seq >= 998") == 0);
}

TEST_CASE("write queue: a failed background job is logged and does not disturb the others") {
  QueueFixture f;
  f.queue.post([](const Database&) -> Status { return fail("background failure (expected in this test)"); });
  f.queue.post(insert(7));
  CHECK(f.queue.run(insert(8)));
  CHECK(seqs(f.reader()) == std::vector<long long>{7, 8});
}

TEST_CASE("write queue: gathered jobs commit together, each durable when its future resolves") {
  QueueFixture f;
  // Alone: the writer waits at most kGatherWait for company, then commits it anyway.
  CHECK(f.queue.run(insert(1), store::Batching::gather));
  CHECK(testing::query_int(f.reader(), "SELECT COUNT(*) FROM t WHERE seq = 1") == 1);

  // Many at once, with a failing one and immediate jobs among them: every outcome is its own.
  std::vector<std::thread> threads;
  std::atomic<int> ok{0}, refused{0};
  for (int t = 0; t < 16; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        int seq = 1000 + t * 100 + i;
        auto batching = i % 10 == 0 ? store::Batching::immediate : store::Batching::gather;
        // Seq 1 is taken: that job fails on the UNIQUE constraint and rolls back alone.
        Status s = f.queue.run(insert(t == 3 && i == 7 ? 1 : seq), batching);
        (s ? ok : refused)++;
      }
    });
  for (auto& th : threads) th.join();
  CHECK(ok == 16 * 50 - 1);
  CHECK(refused == 1);
  CHECK(testing::query_int(f.reader(), "SELECT COUNT(*) FROM t") == 16 * 50);
}

TEST_CASE("write queue: an immediate job is not held back by a gathering writer") {
  QueueFixture f;
  // A gathered job starts a wait (the queue holds less than a group); the immediate job that
  // follows ends it, and both commit well within a generous bound.
  auto gathered = f.queue.submit(insert(1), store::Batching::gather);
  auto start = std::chrono::steady_clock::now();
  CHECK(f.queue.run(insert(2)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
  REQUIRE(gathered.wait_for(std::chrono::seconds(5)) == std::future_status::ready);
  CHECK(gathered.get());
  CHECK(seqs(f.reader()) == std::vector<long long>{1, 2});
}
