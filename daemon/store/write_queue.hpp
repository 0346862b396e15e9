// The one writer: a thread that owns the writing connection and runs submitted jobs in
// batched transactions (group commit). Each job runs inside its own SAVEPOINT, so a failing job
// rolls back alone; its future resolves only after the batch's COMMIT, i.e. once it is durable
// (with synchronous=NORMAL in WAL mode: durable against a process crash).
//
// A commit per job is what a small job costs most (WAL frames, wake-ups): jobs submitted with
// Batching::gather (many concurrent callers that can wait a moment, such as HTTP requests that
// record an event) let the writer wait up to kGatherWait for more of them before it commits,
// when they arrive densely. Jobs submitted with Batching::immediate (the default) are never
// held back, and end any such wait.
//
// On SQLite in WAL mode, checkpoints (copying the WAL back into the database file, with two
// fsyncs) do not run on the writer's thread as SQLite's automatic checkpoint would: every job
// queued behind one would wait the milliseconds it takes. A second connection copies the bulk of
// the WAL in the background, and the writer finishes only the short tail appended meanwhile, so
// its next transaction starts the WAL over: every 2,000 frames (8 MB) under a steady load, and
// never past 2,500 (write_queue.cpp has the numbers and why).
//
// Thread-safe: submit() and post() may be called from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "daemon/store/database.hpp"

namespace campaignd::store {

enum class Batching { immediate, gather };

class WriteQueue {
 public:
  using Job = std::function<Status(const Database&)>;
  // The longest a gathered job waits for company before its batch starts.
  static constexpr std::chrono::microseconds kGatherWait{200};

  // Takes an open, migrated connection. Starts the writer thread.
  explicit WriteQueue(Database db);
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // The future resolves after the job's batch committed (or with the job's or commit's error).
  std::future<Status> submit(Job job, Batching batching = Batching::immediate);
  // Runs the job and waits for it to be durable.
  Status run(Job job, Batching batching = Batching::immediate) { return submit(std::move(job), batching).get(); }
  // Fire and forget: errors are logged.
  void post(Job job);
  // Runs what is queued, then stops the thread. Idempotent.
  void stop();
  size_t pending() const;
  // Checkpoint passes the background connection has run (0 unless SQLite in WAL mode).
  std::uint64_t background_checkpoints() const;

 private:
  struct Item {
    Job job;
    std::shared_ptr<std::promise<Status>> done;  // null for post()
    Batching batching = Batching::immediate;
  };
  void loop();
  void run_batch(std::deque<Item>& batch);
  Status step(const char* sql);
  // SQLite WAL checkpoints off the writer's thread (see the top of this file).
  void start_background_checkpoints();
  void checkpoint_after_commit();  // the writer thread, between batches
  void checkpoint_loop();          // the checkpoint thread
  static int on_wal_commit(void* self, sqlite3* db, const char* schema, int frames);

  Database db_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::size_t immediate_queued_ = 0;  // jobs in queue_ that must not wait
  bool stopping_ = false;
  std::uint64_t batches_ = 0, jobs_ = 0;  // the writer thread's own counts, read after join

  Database checkpoint_db_;        // SQLite WAL only; otherwise empty and no checkpoint thread
  int wal_frames_ = 0;            // writer thread: frames in the WAL after its last commit
  bool wal_restarted_ = false;    // writer thread: the last commit started the WAL over
  std::uint64_t tail_checkpoints_ = 0;  // writer thread, read after join
  mutable std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wake_, checkpoint_done_;
  bool checkpoint_wanted_ = false, checkpoint_running_ = false, checkpoint_stopping_ = false;  // guarded
  int checkpointed_frames_ = 0;          // guarded: WAL frames the last background pass copied
  std::uint64_t background_checkpoints_ = 0;  // guarded
  std::thread checkpoint_thread_;

  std::thread thread_;
};

}  // namespace campaignd::store
