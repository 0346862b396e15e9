// This process as one node of campaignd: its identity, its heartbeat, and whether it leads.
//
// On PostgreSQL several nodes share one database. Every heartbeat a node renews the leases of
// the sends it claimed, queues again the sends of nodes whose leases ran out (a node that died),
// records its row in `nodes` (sent count, send rate, leader), and tries to take the leader's
// advisory lock on a connection of its own. The lock is tied to that connection's session: when
// the leader dies or loses its connection, the server frees the lock and another node takes it
// at its next heartbeat. Only the leader starts campaigns, runs automation timers and A/B
// decisions and refreshes RFM boundaries; every node sends, tracks and answers /status.
//
// On SQLite there is one node: it always leads, and its row still shows on /status.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::app {

struct ClusterSettings {
  std::int64_t heartbeat_seconds = 10;
  std::int64_t lease_seconds = 60;
};

// What a node reports of its own work at each heartbeat.
struct NodeLoad {
  std::int64_t sent = 0;
  double send_rate = 0;
};

class ClusterNode {
 public:
  ClusterNode(store::Store& store, const util::Clock& clock, ClusterSettings settings,
              std::function<NodeLoad()> load);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // The first heartbeat (so a lone node leads before its first scheduler pass), then a thread
  // that beats every heartbeat_seconds.
  Status start();
  // Stops beating; on PostgreSQL hands back the claimed sends this node never started (call
  // after delivery drained) and gives up the lead at once. Idempotent.
  void stop();

  bool leader() const { return leader_.load(); }
  const std::string& id() const { return id_; }
  const ClusterSettings& settings() const { return settings_; }
  // Nodes heard from within two leases at the last heartbeat, this one included (at least 1).
  int live_nodes() const { return live_nodes_.load(); }
  // The lease a claim made now takes.
  store::SendRepository::Lease lease() const { return {id_, clock_.now() + settings_.lease_seconds}; }

 private:
  void loop();
  Status beat();
  // PostgreSQL: holds or tries the leader's advisory lock on lock_db_; returns whether we lead.
  bool hold_lead();

  store::Store& store_;
  const util::Clock& clock_;
  ClusterSettings settings_;
  std::function<NodeLoad()> load_;
  std::string id_;
  util::UnixTime started_at_ = 0;
  std::atomic<bool> leader_{false};
  std::atomic<int> live_nodes_{1};
  std::unique_ptr<store::Database> lock_db_;  // PostgreSQL only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace campaignd::app
