// app/cluster_node: the node's heartbeat row, the leader's advisory lock, and leases that run out.
// On SQLite one node always leads; the PostgreSQL cases run with CAMPAIGND_TEST_STORE=postgresql.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "daemon/app/cluster_node.hpp"
#include "daemon/store/nodes.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

namespace {

std::unique_ptr<store::Store> open_store(const std::string& target) {
  auto s = store::Store::open(target);
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  return std::move(*s);
}

std::vector<store::NodeRow> nodes_seen(store::Store& store) {
  auto db = store.open_reader();
  REQUIRE(db);
  auto rows = store::NodeRepository(*db).heard_since(0);
  REQUIRE_MESSAGE(rows, (rows ? "" : rows.error()));
  return *rows;
}

bool eventually(const std::function<bool()>& test, int seconds = 5) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (test()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return test();
}

}  // namespace

TEST_CASE("cluster node: its row on start, its load at each heartbeat, gone when it stops") {
  testing::TempFolder tmp;
  auto store = open_store(campaignd::testing::store_target(tmp.file("node.db")));
  util::ManualClock clock(1'000'000);
  std::atomic<std::int64_t> sent{7};
  app::ClusterNode node(*store, clock, {1, 4}, [&] { return app::NodeLoad{sent.load(), 2.5}; });
  REQUIRE(node.start());
  CHECK(node.leader());  // alone, on either engine
  CHECK(node.id().find(':') != std::string::npos);
  auto rows = nodes_seen(*store);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].id == node.id());
  CHECK(rows[0].leader);
  CHECK(rows[0].sent == 7);
  CHECK(rows[0].heartbeat_at == 1'000'000);
  CHECK(node.lease().owner == node.id());
  CHECK(node.lease().until == 1'000'004);

  sent = 9;
  clock.advance_seconds(5);
  CHECK(eventually([&] { return nodes_seen(*store)[0].sent == 9; }));
  CHECK(nodes_seen(*store)[0].heartbeat_at == 1'000'005);
  node.stop();
  CHECK(nodes_seen(*store).empty());
  CHECK_FALSE(node.leader());
}

TEST_CASE("cluster node: one leader among several; another takes the lead when it stops" *
          doctest::skip(!campaignd::testing::testing_on_postgresql())) {
  testing::TempFolder tmp;
  auto target = campaignd::testing::store_target(tmp.file("leader.db"));
  auto a_store = open_store(target);
  auto b_store = open_store(target);
  util::ManualClock clock(2'000'000);
  app::ClusterNode a(*a_store, clock, {1, 4}, {});
  app::ClusterNode b(*b_store, clock, {1, 4}, {});
  REQUIRE(a.start());
  REQUIRE(b.start());
  CHECK(a.leader());
  CHECK_FALSE(b.leader());
  CHECK(nodes_seen(*a_store).size() == 2);
  CHECK(b.live_nodes() == 2);
  a.stop();
  CHECK(eventually([&] { return b.leader(); }));
}

TEST_CASE("cluster node: sends of a node whose lease ran out go back to the queue; live leases are renewed" *
          doctest::skip(!campaignd::testing::testing_on_postgresql())) {
  testing::TempFolder tmp;
  auto store = open_store(campaignd::testing::store_target(tmp.file("lease.db")));
  util::ManualClock clock(3'000'000);
  REQUIRE(store->writer().run([](const store::Database& db) -> Status {
    if (auto s = db.exec("INSERT INTO contacts (id, email, created_at, updated_at) VALUES (1, 'a@x.example', 0, 0), "
                         "(2, 'b@x.example', 0, 0)");
        !s)
      return s;
    if (auto s = db.exec("INSERT INTO campaigns (id, name, definition, state, schedule_at, created_at, updated_at) "
                         "VALUES (1, 'c', '{}', 'running', 0, 0, 0)");
        !s)
      return s;
    // Send 1: claimed by a node that died (its lease ran out a minute ago). Send 2: by one alive.
    return db.exec("INSERT INTO sends (campaign_id, contact_id, state, attempts, lease_owner, lease_until) VALUES "
                   "(1, 1, 'sending', 2, 'dead:1:1', 2999940), (1, 2, 'sending', 0, 'alive:2:2', 3000030)");
  }));
  app::ClusterNode node(*store, clock, {1, 4}, {});
  REQUIRE(node.start());
  auto reader = store->open_reader();
  REQUIRE(reader);
  CHECK(testing::query_text(*reader, "SELECT state || '/' || attempts FROM sends WHERE contact_id = 1") == "queued/2");
  CHECK(testing::query_text(*reader, "SELECT state FROM sends WHERE contact_id = 2") == "sending");

  // This node's own claim is renewed at each heartbeat, so it never runs out while it lives.
  auto claimed = store->writer().run([&](const store::Database& db) -> Status {
    auto r = store::SendRepository(db).claim_due(clock.now(), 10, node.lease());
    if (!r) return std::unexpected(r.error());
    return r->size() == 1 ? Status{} : fail("claimed " + std::to_string(r->size()));
  });
  REQUIRE_MESSAGE(claimed, (claimed ? "" : claimed.error()));
  clock.advance_seconds(60);
  CHECK(eventually([&] {
    return testing::query_int(*reader, "SELECT lease_until FROM sends WHERE contact_id = 1") >= 3'000'060;
  }));
  CHECK(testing::query_text(*reader, "SELECT state FROM sends WHERE contact_id = 1") == "sending");
  // Stopping hands back what it claimed and never started.
  node.stop();
  CHECK(testing::query_text(*reader, "SELECT state FROM sends WHERE contact_id = 1") == "queued");
}
