#include "daemon/store/write_queue.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace campaignd::store {

namespace {
constexpr size_t kMaxBatch = 2000;
// A gathered batch starts without waiting once it holds this many jobs: about as many as the
// HTTP server has threads.
constexpr size_t kGatherTarget = 16;
}

WriteQueue::WriteQueue(Database db) : db_(std::move(db)) {
  // The writer touches the same index pages batch after batch (the events table's tail, the
  // aggregates of migration 4): a page cache of 16 MB instead of SQLite's 2 MB keeps them in
  // memory rather than re-reading them from the file. Per connection: readers keep the default.
  // (The WAL keeps SQLite's checkpoint every 1,000 pages: a larger threshold lets the WAL itself
  // fill a small disk, and a full disk then never reaches the checkpoint that would free it.)
  if (db_.dialect() == Dialect::sqlite) (void)db_.exec("PRAGMA cache_size = -16384");
  thread_ = std::thread([this] { loop(); });
}

WriteQueue::~WriteQueue() { stop(); }

std::future<Status> WriteQueue::submit(Job job, Batching batching) {
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      done->set_value(fail("write queue stopped"));
      return future;
    }
    queue_.push_back({std::move(job), std::move(done), batching});
    if (batching == Batching::immediate) ++immediate_queued_;
    // A gathering writer only needs to hear of a full group; an idle one of the first job.
    wake = batching == Batching::immediate || queue_.size() == 1 || queue_.size() >= kGatherTarget;
  }
  if (wake) wake_.notify_one();
  return future;
}

void WriteQueue::post(Job job) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      spdlog::error("store: write after stop dropped");
      return;
    }
    queue_.push_back({std::move(job), nullptr});
    ++immediate_queued_;
  }
  wake_.notify_one();
}

void WriteQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
    if (batches_ > 0)
      spdlog::debug("store: the writer ran {} jobs in {} batches ({:.1f} per commit)", jobs_, batches_,
                    static_cast<double>(jobs_) / static_cast<double>(batches_));
  }
}

size_t WriteQueue::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WriteQueue::loop() {
  using Clock = std::chrono::steady_clock;
  auto idle_since = Clock::now();
  while (true) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Only gathered jobs are queued, fewer than a group, and the last batch ended moments ago:
      // more are on their way, and one commit for all of them is cheaper than one each.
      auto ready = [&] { return stopping_ || immediate_queued_ > 0 || queue_.size() >= kGatherTarget; };
      if (!ready() && Clock::now() - idle_since < kGatherWait) wake_.wait_for(lock, kGatherWait, ready);
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        if (queue_.front().batching == Batching::immediate) --immediate_queued_;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ++batches_;
    jobs_ += batch.size();
    run_batch(batch);
    idle_since = Clock::now();
  }
}

// The batch's own statements, prepared once: sqlite3_exec would parse each of them again for
// every job, which is a measurable share of a small job such as recording one event.
Status WriteQueue::step(const char* sql) {
  auto stmt = db_.cached(sql);
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->run();
}

void WriteQueue::run_batch(std::deque<Item>& batch) {
  std::vector<Status> results;
  results.reserve(batch.size());
  // A PostgreSQL connection the server dropped is opened again here, between batches, never
  // inside one (statements after a silent reconnect would run outside the transaction).
  // libpq learns of a dropped connection only when it next talks, so a failed BEGIN (no job has
  // run yet) gets one reconnect and another try.
  Status batch_status = db_.reconnect_if_lost();
  if (batch_status) batch_status = step(db_.begin_write_sql());
  if (!batch_status && db_.is_postgresql() && db_.reconnect_if_lost()) batch_status = step(db_.begin_write_sql());
  if (batch_status) {
    for (auto& item : batch) {
      if (auto s = step("SAVEPOINT job"); !s) {
        results.push_back(s);
        continue;
      }
      Status s;
      try {
        s = item.job(db_);
      } catch (const std::exception& e) {
        s = fail(std::string("write job threw: ") + e.what());
      }
      if (s) {
        (void)step("RELEASE job");
      } else {
        (void)step("ROLLBACK TO job");
        (void)step("RELEASE job");
      }
      results.push_back(std::move(s));
    }
    batch_status = step("COMMIT");
    if (!batch_status) (void)step("ROLLBACK");
  }
  // A full disk: write what the WAL holds back into the database and truncate it, so the space
  // the WAL took comes back once there is room again (the failed writes are retried by callers).
  auto full = [](const Status& s) { return !s && s.error().find("database or disk is full") != std::string::npos; };
  if (db_.dialect() == Dialect::sqlite && (full(batch_status) || std::any_of(results.begin(), results.end(), full)))
    (void)db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  for (size_t i = 0; i < batch.size(); ++i) {
    Status s = !batch_status ? Status(std::unexpected(batch_status.error())) : results[i];
    if (batch[i].done) {
      batch[i].done->set_value(std::move(s));
    } else if (!s) {
      spdlog::error("store: background write failed: {}", s.error());
    }
  }
}

}  // namespace campaignd::store
