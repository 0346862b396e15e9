// The nodes table: each campaignd node's heartbeat, sent count, send rate and whether it leads
// (runs the scheduler). /status lists the nodes heard from recently.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct NodeRow {
  std::string id;
  util::UnixTime started_at = 0;
  util::UnixTime heartbeat_at = 0;
  std::int64_t sent = 0;
  double send_rate = 0;
  bool leader = false;
};

class NodeRepository {
 public:
  explicit NodeRepository(const Database& db) : db_(db) {}

  // Inserts or refreshes the node's row.
  Status heartbeat(const NodeRow& node);
  // Nodes whose last heartbeat is at or after `since`, by id.
  Result<std::vector<NodeRow>> heard_since(util::UnixTime since);
  // A node that stops cleanly says so at once rather than ageing out.
  Status remove(const std::string& id);

 private:
  const Database& db_;
};

}  // namespace campaignd::store
