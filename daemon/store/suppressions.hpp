// The suppressions table: addresses that must never be mailed, keyed by the SHA-256 of the
// normalised address so the entry outlives `forget` (which clears the readable address).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct Suppression {
  std::string email_hash;            // sha256 hex of the normalised address
  std::optional<std::string> email;  // empty once forgotten
  std::string reason;
  util::UnixTime created_at = 0;
};

// The key every suppression is stored under.
std::string suppression_key(std::string_view email);

// Statements are prepared once per connection (Database::cached). One thread at a time.
class SuppressionRepository {
 public:
  explicit SuppressionRepository(const Database& db) : db_(db) {}

  // Adding an address already suppressed keeps the first entry (its reason and time).
  Status add(std::string_view email, std::string_view reason, util::UnixTime now);
  // Nothing to remove is not an error.
  Status remove(std::string_view email);
  Result<bool> is_suppressed(std::string_view email);
  // Clears the readable address and keeps the hash, for `forget`.
  Status forget(std::string_view email);
  // Oldest first.
  Result<std::vector<Suppression>> list();
  // Every key, for checking many addresses (an import) without a query each.
  Result<std::unordered_set<std::string>> all_keys();

 private:
  const Database& db_;
};

}  // namespace campaignd::store
