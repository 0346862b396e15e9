#include "daemon/store/topics.hpp"

namespace campaignd::store {

Status TopicRepository::set(std::int64_t contact_id, const std::string& topic, bool subscribed, util::UnixTime now) {
  auto stmt = db_.cached(
      "INSERT INTO contact_topics (contact_id, topic, subscribed, updated_at) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(contact_id, topic) DO UPDATE SET subscribed = excluded.subscribed, updated_at = excluded.updated_at");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, contact_id).bind(2, topic).bind(3, subscribed ? 1 : 0).bind(4, now).run();
}

Result<bool> TopicRepository::has_left(std::int64_t contact_id, const std::string& topic) {
  auto stmt = db_.cached("SELECT 1 FROM contact_topics WHERE contact_id = ? AND topic = ? AND subscribed = 0");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id).bind(2, topic);
  auto row = (*stmt)->step();
  (*stmt)->reset();
  if (!row) return std::unexpected(row.error());
  return *row;
}

Result<std::vector<TopicChoice>> TopicRepository::for_contact(std::int64_t contact_id) {
  auto stmt = db_.cached("SELECT topic, subscribed FROM contact_topics WHERE contact_id = ? ORDER BY topic");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id);
  std::vector<TopicChoice> out;
  auto r = (*stmt)->each([&](const Statement& row) { out.push_back({row.column_text(0), row.column_int(1) != 0}); });
  if (!r) return std::unexpected(r.error());
  return out;
}

Result<std::vector<std::string>> TopicRepository::known_topics() {
  auto stmt = db_.cached(db_.sql(
      "SELECT DISTINCT topic FROM ("
      "  SELECT json_extract(definition, '$.topic') AS topic FROM campaigns "
      "  UNION SELECT topic FROM contact_topics) t WHERE topic IS NOT NULL AND topic <> '' ORDER BY topic",
      "SELECT DISTINCT topic FROM ("
      "  SELECT definition->>'topic' AS topic FROM campaigns "
      "  UNION SELECT topic FROM contact_topics) t WHERE topic IS NOT NULL AND topic <> '' ORDER BY topic"));
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<std::string> out;
  auto r = (*stmt)->each([&](const Statement& row) { out.push_back(row.column_text(0)); });
  if (!r) return std::unexpected(r.error());
  return out;
}

}  // namespace campaignd::store
