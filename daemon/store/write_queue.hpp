// The one writer: a thread that owns the writing connection and runs submitted jobs in
// batched transactions (group commit). Each job runs inside its own SAVEPOINT, so a failing job
// rolls back alone; its future resolves only after the batch's COMMIT, i.e. once it is durable
// (with synchronous=NORMAL in WAL mode: durable against a process crash).
//
// Thread-safe: submit() and post() may be called from any thread.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "daemon/store/database.hpp"

namespace campaignd::store {

class WriteQueue {
 public:
  using Job = std::function<Status(const Database&)>;

  // Takes an open, migrated connection. Starts the writer thread.
  explicit WriteQueue(Database db);
  ~WriteQueue();
  WriteQueue(const WriteQueue&) = delete;
  WriteQueue& operator=(const WriteQueue&) = delete;

  // The future resolves after the job's batch committed (or with the job's or commit's error).
  std::future<Status> submit(Job job);
  // Runs the job and waits for it to be durable.
  Status run(Job job) { return submit(std::move(job)).get(); }
  // Fire and forget: errors are logged.
  void post(Job job);
  // Runs what is queued, then stops the thread. Idempotent.
  void stop();
  size_t pending() const;

 private:
  struct Item {
    Job job;
    std::shared_ptr<std::promise<Status>> done;  // null for post()
  };
  void loop();
  void run_batch(std::deque<Item>& batch);

  Database db_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace campaignd::store
