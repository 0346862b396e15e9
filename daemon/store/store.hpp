// The store: one migrated database (an SQLite file or a PostgreSQL database), one WriteQueue for
// every write, read connections opened per thread that reads all the time, and a small pool
// lent to the threads that read now and then.
#pragma once

#include <memory>
#include <string>

#include "daemon/store/database.hpp"
#include "daemon/store/reader_pool.hpp"
#include "daemon/store/write_queue.hpp"

namespace campaignd::store {

class Store {
 public:
  // `target`: an SQLite path (`sqlite://PATH` or bare) or a `postgresql://` URL. Opens or
  // creates the database, applies migrations, starts the writer.
  static Result<std::unique_ptr<Store>> open(const std::string& target);

  WriteQueue& writer() { return *writer_; }
  // A new connection for one reading thread; not shared between threads.
  Result<Database> open_reader() const { return Database::open(target_); }
  // Connections lent to threads that read now and then (HTTP requests); see reader_pool.hpp.
  ReaderPool& readers() { return *readers_; }
  Dialect dialect() const { return is_postgresql_url(target_) ? Dialect::postgresql : Dialect::sqlite; }
  // The SQLite file, or the PostgreSQL URL without its password: for logs and /status.
  const std::string& describe() const { return described_; }

 private:
  std::string target_;  // may hold a password: never log it
  std::string described_;
  std::unique_ptr<WriteQueue> writer_;
  std::unique_ptr<ReaderPool> readers_;
};

}  // namespace campaignd::store
