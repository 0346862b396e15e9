// SQL for the automation_cursor table.
#include "daemon/automation/cursor_repository.hpp"

namespace campaignd::automation {

Result<std::optional<std::int64_t>> CursorRepository::get(const std::string& name) {
  auto stmt = db_.cached("SELECT event_id FROM automation_cursor WHERE name = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, name);
  auto row = (*stmt)->step();
  if (!row) {
    (*stmt)->reset();
    return std::unexpected(row.error());
  }
  std::optional<std::int64_t> out;
  if (*row) out = (*stmt)->column_int(0);
  (*stmt)->reset();
  return out;
}

Status CursorRepository::set(const std::string& name, std::int64_t event_id) {
  auto stmt = db_.cached(
      "INSERT INTO automation_cursor (name, event_id) VALUES (?1, ?2) "
      "ON CONFLICT(name) DO UPDATE SET event_id = excluded.event_id");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, name).bind(2, event_id).run();
}

Status CursorRepository::create(const std::string& name, std::int64_t event_id) {
  auto stmt = db_.cached("INSERT INTO automation_cursor (name, event_id) VALUES (?1, ?2) ON CONFLICT DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, name).bind(2, event_id).run();
}

}  // namespace campaignd::automation
