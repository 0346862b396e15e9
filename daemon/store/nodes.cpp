#include "daemon/store/nodes.hpp"

namespace campaignd::store {

Status NodeRepository::heartbeat(const NodeRow& node) {
  auto stmt = db_.cached(
      "INSERT INTO nodes (id, started_at, heartbeat_at, sent, send_rate, leader) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
      "ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, sent = excluded.sent, "
      "send_rate = excluded.send_rate, leader = excluded.leader");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, node.id).bind(2, node.started_at).bind(3, node.heartbeat_at).bind(4, node.sent);
  (*stmt)->bind(5, node.send_rate).bind(6, node.leader ? 1 : 0);
  return (*stmt)->run();
}

Result<std::vector<NodeRow>> NodeRepository::heard_since(util::UnixTime since) {
  auto stmt = db_.cached(
      "SELECT id, started_at, heartbeat_at, sent, send_rate, leader FROM nodes WHERE heartbeat_at >= ?1 ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, since);
  std::vector<NodeRow> out;
  auto s = (*stmt)->each([&](const Statement& row) {
    out.push_back({row.column_text(0), row.column_int(1), row.column_int(2), row.column_int(3), row.column_double(4),
                   row.column_int(5) != 0});
  });
  if (!s) return std::unexpected(s.error());
  return out;
}

Status NodeRepository::remove(const std::string& id) {
  auto stmt = db_.cached("DELETE FROM nodes WHERE id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).run();
}

}  // namespace campaignd::store
