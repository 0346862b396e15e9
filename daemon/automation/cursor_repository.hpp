// The automation_cursor table: per automation, the last events.id the engine has processed
// (and, under "joined:<name>", whether a joined_segment automation has had its first pass).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "daemon/store/database.hpp"

namespace campaignd::automation {

class CursorRepository {
 public:
  explicit CursorRepository(const store::Database& db) : db_(db) {}

  Result<std::optional<std::int64_t>> get(const std::string& name);
  Status set(const std::string& name, std::int64_t event_id);
  // Creates the cursor at `event_id` when there is none; an existing one is kept.
  Status create(const std::string& name, std::int64_t event_id);

 private:
  const store::Database& db_;
};

}  // namespace campaignd::automation
