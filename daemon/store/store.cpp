#include "daemon/store/store.hpp"

#include <filesystem>

#include "daemon/store/migrations.hpp"

namespace campaignd::store {

Result<std::unique_ptr<Store>> Store::open(const std::string& target) {
  const bool postgresql = target.starts_with("postgresql://") || target.starts_with("postgres://");
  std::string path = target.starts_with("sqlite://") ? target.substr(9) : target;
  if (!postgresql) {
    std::error_code ec;
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) return fail("cannot create " + parent.string() + ": " + ec.message());
  }
  auto db = Database::open(postgresql ? target : path);
  if (!db) return std::unexpected(db.error());
  if (auto s = migrate(*db); !s) return std::unexpected(s.error());
  auto store = std::make_unique<Store>();
  store->target_ = postgresql ? target : path;
  store->described_ = db->describe();
  store->dialect_ = db->dialect();
  store->writer_ = std::make_unique<WriteQueue>(std::move(*db));
  return store;
}

}  // namespace campaignd::store
