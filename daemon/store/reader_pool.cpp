#include "daemon/store/reader_pool.hpp"

namespace campaignd::store {

Result<ReaderPool::Lease> ReaderPool::borrow(std::chrono::milliseconds wait) {
  std::unique_ptr<Database> db;
  {
    std::unique_lock lock(mutex_);
    if (!returned_.wait_for(lock, wait, [&] { return !idle_.empty() || lent_ + idle_.size() < size_; }))
      return fail("all " + std::to_string(size_) + " reading connections are busy");
    ++lent_;
    if (!idle_.empty()) {
      db = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  // Opening and reconnecting happen outside the lock: they wait on the network.
  if (!db) {
    auto opened = Database::open(target_);
    if (!opened) {
      give_back(nullptr);
      return std::unexpected(opened.error());
    }
    db = std::make_unique<Database>(std::move(*opened));
  } else if (auto s = db->reconnect_if_lost(); !s) {
    give_back(std::move(db));
    return std::unexpected(s.error());
  }
  return Lease(this, std::move(db));
}

void ReaderPool::give_back(std::unique_ptr<Database> db) {
  {
    std::lock_guard lock(mutex_);
    --lent_;
    if (db) idle_.push_back(std::move(db));
  }
  returned_.notify_one();
}

}  // namespace campaignd::store
