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
  return store;
}

}  // namespace campaignd::store
