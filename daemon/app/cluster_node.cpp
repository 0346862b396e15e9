#include "daemon/app/cluster_node.hpp"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <array>

#include "daemon/store/nodes.hpp"
#include "daemon/store/pg/pg_migrations.hpp"
#include "daemon/store/pg/pg_send_leases.hpp"
#include "daemon/util/thread_name.hpp"

namespace campaignd::app {

namespace {

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  return buf.data();
}

}  // namespace

ClusterNode::ClusterNode(store::Store& store, const util::Clock& clock, ClusterSettings settings,
                         std::function<NodeLoad()> load)
    : store_(store), clock_(clock), settings_(settings), load_(std::move(load)) {
  started_at_ = clock_.now();
  // host:pid:start names a process; a second node in the same process (tests) gets a suffix.
  static std::atomic<int> in_process{0};
  int n = in_process++;
  id_ = host_name() + ":" + std::to_string(::getpid()) + ":" + std::to_string(started_at_) +
        (n > 0 ? "." + std::to_string(n) : "");
}

ClusterNode::~ClusterNode() { stop(); }

Status ClusterNode::start() {
  if (store_.dialect() == store::Dialect::postgresql) {
    auto db = store_.open_reader();
    if (!db) return std::unexpected(db.error());
    lock_db_ = std::make_unique<store::Database>(std::move(*db));
  }
  if (auto s = beat(); !s) return s;
  thread_ = std::thread([this] {
    util::name_this_thread("heartbeat");
    loop();
  });
  return {};
}

void ClusterNode::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    stopped_ = stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  auto s = store_.writer().run([this](const store::Database& db) -> Status {
    if (auto* postgresql = db.postgresql_connection()) {
      auto n = store::pg::release_owner(*postgresql, id_, clock_.now());
      if (!n) return std::unexpected(n.error());
      if (*n > 0) spdlog::info("node {}: handed back {} claimed sends it had not started", id_, *n);
    }
    return store::NodeRepository(db).remove(id_);
  });
  if (!s) spdlog::warn("node {}: cannot sign off: {}", id_, s.error());
  lock_db_.reset();  // ends the session, and with it the leader's lock
  leader_ = false;
}

void ClusterNode::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(settings_.heartbeat_seconds), [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    if (auto s = beat(); !s) spdlog::error("node {}: heartbeat failed: {}", id_, s.error());
    lock.lock();
  }
}

bool ClusterNode::hold_lead() {
  auto* conn = lock_db_ ? lock_db_->postgresql_connection() : nullptr;
  if (!conn) return true;  // SQLite: the only node
  if (auto s = lock_db_->reconnect_if_lost(); !s) {
    spdlog::warn("node {}: leader lock connection lost: {}", id_, s.error());
    return false;
  }
  // A session lock is held until the session ends; asking again while holding it would stack a
  // second hold, so the holder only checks that its session is alive.
  auto r = leader_ ? conn->query("SELECT 1")
                   : conn->query("SELECT pg_try_advisory_lock(?1, ?2)",
                                 {static_cast<std::int64_t>(store::pg::kLockClass),
                                  static_cast<std::int64_t>(store::pg::kLeaderLock)});
  if (!r) {
    spdlog::warn("node {}: leader lock: {}", id_, r.error());
    return false;
  }
  return leader_ ? true : r->rows() > 0 && r->int64(0, 0) != 0;
}

Status ClusterNode::beat() {
  bool was_leader = leader_;
  bool leads = hold_lead();
  leader_ = leads;
  if (leads != was_leader)
    spdlog::info("node {}: {}", id_, leads ? "leads: starts campaigns and runs timers" : "no longer leads");
  NodeLoad load = load_ ? load_() : NodeLoad{};
  util::UnixTime now = clock_.now();
  return store_.writer().run([&](const store::Database& db) -> Status {
    if (auto* postgresql = db.postgresql_connection()) {
      if (auto n = store::pg::renew_leases(*postgresql, id_, now + settings_.lease_seconds); !n)
        return std::unexpected(n.error());
      auto expired = store::pg::release_expired_leases(*postgresql, now);
      if (!expired) return std::unexpected(expired.error());
      if (*expired > 0)
        spdlog::warn("node {}: {} sends of a node that stopped answering go back to the queue", id_, *expired);
    }
    store::NodeRepository nodes(db);
    if (auto s = nodes.heartbeat({id_, started_at_, now, load.sent, load.send_rate, leads}); !s) return s;
    auto live = nodes.heard_since(now - 2 * settings_.lease_seconds);
    if (!live) return std::unexpected(live.error());
    live_nodes_ = std::max<int>(1, static_cast<int>(live->size()));
    return {};
  });
}

}  // namespace campaignd::app
