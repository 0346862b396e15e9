#include "daemon/store/store.hpp"

#include "daemon/store/migrations.hpp"

namespace campaignd::store {

Result<std::unique_ptr<Store>> Store::open(const std::string& target) {
  auto db = Database::open(target);
  if (!db) return std::unexpected(db.error());
  if (auto s = migrate(*db); !s) return std::unexpected(s.error());
  auto store = std::make_unique<Store>();
  store->target_ = target;
  store->described_ = db->describe();
  store->writer_ = std::make_unique<WriteQueue>(std::move(*db));
  // Enough for the requests that read at once on a busy node; a request waits for one rather
  // than each of the 16-64 HTTP threads keeping a PostgreSQL connection of its own.
  store->readers_ = std::make_unique<ReaderPool>(target, 8);
  return store;
}

}  // namespace campaignd::store
