// SQL for the autoreplies table.
#include "daemon/automation/autoreply_repository.hpp"

namespace campaignd::automation {

Result<std::optional<util::UnixTime>> AutoreplyRepository::last_reply(const std::string& sender,
                                                                      const std::string& automation) {
  auto stmt = db_.cached("SELECT replied_at FROM autoreplies WHERE sender = ? AND automation = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, sender).bind(2, automation);
  auto row = (*stmt)->step();
  if (!row) {
    (*stmt)->reset();
    return std::unexpected(row.error());
  }
  std::optional<util::UnixTime> out;
  if (*row) out = (*stmt)->column_int(0);
  (*stmt)->reset();
  return out;
}

Status AutoreplyRepository::record(const std::string& sender, const std::string& automation, util::UnixTime at) {
  auto stmt = db_.cached(
      "INSERT INTO autoreplies (sender, automation, replied_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT(sender, automation) DO UPDATE SET replied_at = excluded.replied_at");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, sender).bind(2, automation).bind(3, at).run();
}

}  // namespace campaignd::automation
