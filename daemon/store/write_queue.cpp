#include "daemon/store/write_queue.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>

#include "daemon/util/thread_name.hpp"

namespace campaignd::store {

namespace {
constexpr size_t kMaxBatch = 2000;
// A gathered batch starts without waiting once it holds this many jobs: about as many as the
// HTTP server has threads.
constexpr size_t kGatherTarget = 16;

// WAL sizes in frames (pages of 4 KiB). The background connection copies the WAL into the
// database whenever kCheckpointPass frames are uncopied. The WAL starts over only once a
// checkpoint has copied all of it and no transaction wrote in between, which under a steady
// load means the writer finishing the last few frames itself: two fsyncs, milliseconds that
// every queued job waits. It does so once the WAL holds kRestartFrames and at most
// kCheckpointTail frames are left, so that wait comes once per 16 MB of WAL: under wrk on the
// open pixel (~3 frames an event) a restart every 8 MB cost a tenth of the events per second.
// The WAL never grows past kCheckpointLimit (20 MB): the writer then waits for the pass under
// way and finishes the rest (SQLite's own automatic checkpoint, at 1,000 frames, runs on the
// writer every time; with no limit the WAL grows as long as the load lasts).
constexpr int kCheckpointPass = 500;
constexpr int kRestartFrames = 4000;
constexpr int kCheckpointTail = 64;
constexpr int kCheckpointLimit = 5000;
}  // namespace

WriteQueue::WriteQueue(Database db) : db_(std::move(db)) {
  // The writer touches the same index pages batch after batch (the events table's tail, the
  // aggregates of migration 4): a page cache of 8 MB instead of SQLite's 2 MB keeps them in
  // memory rather than re-reading them from the file. It fills up over a long campaign and is
  // most of the daemon's own memory: 16 MB made no difference to events/s under wrk, and took
  // the peak RSS of a 300,000-recipient send from 31 to 46 MB. Readers keep the default.
  if (db_.dialect() == Dialect::sqlite) (void)db_.exec("PRAGMA cache_size = -8192");
  start_background_checkpoints();
  thread_ = std::thread([this] {
    util::name_this_thread("store-writer");
    loop();
  });
}

WriteQueue::~WriteQueue() { stop(); }

void WriteQueue::start_background_checkpoints() {
  sqlite3* writer = db_.sqlite_handle();
  if (!writer) return;
  auto mode = db_.prepare("PRAGMA journal_mode");
  if (!mode) return;
  auto text = mode->single_text();
  if (!text || *text != "wal") return;
  auto second = Database::open(db_.describe());
  if (!second) {
    spdlog::warn("store: checkpoints stay on the writer's thread: {}", second.error());
    return;
  }
  checkpoint_db_ = std::move(*second);
  // Replaces SQLite's automatic checkpoint on this connection (itself a WAL hook).
  sqlite3_wal_hook(writer, &WriteQueue::on_wal_commit, this);
  checkpoint_thread_ = std::thread([this] {
    util::name_this_thread("wal-checkpoint");
    checkpoint_loop();
  });
}

int WriteQueue::on_wal_commit(void* self, sqlite3*, const char*, int frames) {
  auto& q = *static_cast<WriteQueue*>(self);
  if (frames < q.wal_frames_) q.wal_restarted_ = true;
  q.wal_frames_ = frames;
  return SQLITE_OK;
}

void WriteQueue::checkpoint_after_commit() {
  if (!checkpoint_thread_.joinable()) return;
  std::unique_lock lock(checkpoint_mutex_);
  if (wal_restarted_) {
    checkpointed_frames_ = 0;  // counted in the WAL that was started over
    wal_restarted_ = false;
  }
  if (wal_frames_ < kCheckpointPass) return;
  if (checkpoint_running_ || checkpoint_wanted_) {
    if (wal_frames_ < kCheckpointLimit) return;
    checkpoint_done_.wait(lock, [&] { return !checkpoint_running_ && !checkpoint_wanted_; });
  }
  // A pass's count belongs to an earlier WAL when it is larger than this one.
  int uncopied = wal_frames_ - (checkpointed_frames_ <= wal_frames_ ? checkpointed_frames_ : 0);
  bool finish = wal_frames_ >= kCheckpointLimit || (wal_frames_ >= kRestartFrames && uncopied <= kCheckpointTail);
  if (!finish) {
    if (uncopied >= kCheckpointPass || (wal_frames_ >= kRestartFrames && uncopied > kCheckpointTail)) {
      checkpoint_wanted_ = true;
      lock.unlock();
      checkpoint_wake_.notify_one();
    }
    return;
  }
  lock.unlock();
  int rc = sqlite3_wal_checkpoint_v2(db_.sqlite_handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  if (rc != SQLITE_OK && rc != SQLITE_BUSY)
    spdlog::debug("store: checkpoint on the writer failed: {}", sqlite3_errstr(rc));
  ++tail_checkpoints_;
  lock.lock();
  checkpointed_frames_ = 0;
}

void WriteQueue::checkpoint_loop() {
  std::unique_lock lock(checkpoint_mutex_);
  while (true) {
    checkpoint_wake_.wait(lock, [&] { return checkpoint_stopping_ || checkpoint_wanted_; });
    if (checkpoint_stopping_) return;
    checkpoint_wanted_ = false;
    checkpoint_running_ = true;
    lock.unlock();
    int log = 0, copied = 0;
    int rc = sqlite3_wal_checkpoint_v2(checkpoint_db_.sqlite_handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log,
                                       &copied);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
      spdlog::debug("store: background checkpoint failed: {}", sqlite3_errstr(rc));
    lock.lock();
    checkpoint_running_ = false;
    checkpointed_frames_ = rc == SQLITE_OK ? copied : 0;
    ++background_checkpoints_;
    checkpoint_done_.notify_all();
  }
}

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
  if (checkpoint_thread_.joinable()) {
    {
      std::lock_guard lock(checkpoint_mutex_);
      checkpoint_stopping_ = true;
    }
    checkpoint_wake_.notify_one();
    checkpoint_thread_.join();
    spdlog::debug("store: {} checkpoints in the background, {} finished by the writer", background_checkpoints_,
                  tail_checkpoints_);
  }
}

size_t WriteQueue::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

std::uint64_t WriteQueue::background_checkpoints() const {
  std::lock_guard lock(checkpoint_mutex_);
  return background_checkpoints_;
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
    checkpoint_after_commit();
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
