// Reading connections shared by the threads that read now and then (HTTP requests: /status,
// unsubscribe pages, inbound replies): a few connections opened on first need and lent out one at
// a time, instead of one per thread (PostgreSQL's max_connections is shared by every node) or
// one per request (a PostgreSQL connect costs a round trip and authentication).
//
// A lease is returned when it goes out of scope. A borrower must not ask for a second lease
// while holding one: with every connection lent out, that would wait on itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/store/database.hpp"

namespace campaignd::store {

class ReaderPool {
 public:
  ReaderPool(std::string target, std::size_t size) : target_(std::move(target)), size_(size) {}
  ReaderPool(const ReaderPool&) = delete;
  ReaderPool& operator=(const ReaderPool&) = delete;

  class Lease {
   public:
    Lease(Lease&& other) noexcept : pool_(other.pool_), db_(std::move(other.db_)) { other.pool_ = nullptr; }
    Lease& operator=(Lease&&) = delete;
    ~Lease() {
      if (pool_) pool_->give_back(std::move(db_));
    }
    const Database& operator*() const { return *db_; }
    const Database* operator->() const { return db_.get(); }

   private:
    friend class ReaderPool;
    Lease(ReaderPool* pool, std::unique_ptr<Database> db) : pool_(pool), db_(std::move(db)) {}
    ReaderPool* pool_;
    std::unique_ptr<Database> db_;
  };

  // A connection, reconnected if the server dropped it; waits up to `wait` while all are lent.
  Result<Lease> borrow(std::chrono::milliseconds wait = std::chrono::seconds(10));

  std::size_t size() const { return size_; }

 private:
  void give_back(std::unique_ptr<Database> db);

  std::string target_;  // may hold a password: never log it
  std::size_t size_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<Database>> idle_;
  std::size_t lent_ = 0;
};

}  // namespace campaignd::store
