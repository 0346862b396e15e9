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

 private:
  struct Item {
    Job job;
    std::shared_ptr<std::promise<Status>> done;  // null for post()
    Batching batching = Batching::immediate;
  };
  void loop();
  void run_batch(std::deque<Item>& batch);
  Status step(const char* sql);

  Database db_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  std::size_t immediate_queued_ = 0;  // jobs in queue_ that must not wait
  bool stopping_ = false;
  std::uint64_t batches_ = 0, jobs_ = 0;  // the writer thread's own counts, read after join
  std::thread thread_;
};

}  // namespace campaignd::store
