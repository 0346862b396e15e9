#include "daemon/store/write_queue.hpp"

#include <spdlog/spdlog.h>

namespace campaignd::store {

namespace {
constexpr size_t kMaxBatch = 2000;
}

WriteQueue::WriteQueue(Database db) : db_(std::move(db)) { thread_ = std::thread([this] { loop(); }); }

WriteQueue::~WriteQueue() { stop(); }

std::future<Status> WriteQueue::submit(Job job) {
  auto done = std::make_shared<std::promise<Status>>();
  auto future = done->get_future();
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      done->set_value(fail("write queue stopped"));
      return future;
    }
    queue_.push_back({std::move(job), std::move(done)});
  }
  wake_.notify_one();
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
  }
  wake_.notify_one();
}

void WriteQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

size_t WriteQueue::pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void WriteQueue::loop() {
  while (true) {
    std::deque<Item> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      while (!queue_.empty() && batch.size() < kMaxBatch) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    run_batch(batch);
  }
}

void WriteQueue::run_batch(std::deque<Item>& batch) {
  std::vector<Status> results;
  results.reserve(batch.size());
  Status batch_status = db_.exec("BEGIN IMMEDIATE");
  if (batch_status) {
    for (auto& item : batch) {
      if (auto s = db_.exec("SAVEPOINT job"); !s) {
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
        (void)db_.exec("RELEASE job");
      } else {
        (void)db_.exec("ROLLBACK TO job; RELEASE job");
      }
      results.push_back(std::move(s));
    }
    batch_status = db_.exec("COMMIT");
    if (!batch_status) (void)db_.exec("ROLLBACK");
  }
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
