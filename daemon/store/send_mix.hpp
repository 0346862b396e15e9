// campaignd_mix(seed, id): a 63-bit splitmix64 hash, the A/B test group's shuffle. Deterministic,
// so a campaign started again after a crash picks the same contacts for the same variants. SQLite
// gets it as a registered SQL function, PostgreSQL as a function its migration 5 creates; both
// must agree with this one bit for bit (tests/unit/store_pg/test_pg_migrations.cpp).
#pragma once

#include <cstdint>

namespace campaignd::store {

inline std::int64_t campaignd_mix(std::int64_t seed, std::int64_t id) {
  std::uint64_t x = static_cast<std::uint64_t>(seed) * 0x9E3779B97F4A7C15ULL + static_cast<std::uint64_t>(id);
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  x ^= x >> 31;
  return static_cast<std::int64_t>(x >> 1);
}

}  // namespace campaignd::store
