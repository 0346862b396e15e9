// The SQLite store: one migrated database file, one WriteQueue for every write, and
// read connections opened per thread that reads.
#pragma once

#include <memory>
#include <string>

#include "daemon/store/database.hpp"
#include "daemon/store/write_queue.hpp"

namespace campaignd::store {

class Store {
 public:
  // Opens or creates the database at `path`, applies migrations, starts the writer.
  static Result<std::unique_ptr<Store>> open(const std::string& path);

  WriteQueue& writer() { return *writer_; }
  // A new connection for one reading thread; not shared between threads.
  Result<Database> open_reader() const { return Database::open(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<WriteQueue> writer_;
};

}  // namespace campaignd::store
