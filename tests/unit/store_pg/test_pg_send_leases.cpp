// store/pg/pg_send_leases: claiming due sends under a lease from several connections at once
// never hands one send to two claimers; expired leases go back to the queue.
// Needs CAMPAIGND_TEST_PG_URL (scripts/pg-test-cluster.sh).
#include <doctest/doctest.h>

#include <atomic>
#include <barrier>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/pg/pg_send_leases.hpp"
#include "tests/unit/store_pg/pg_test_database.hpp"

using namespace campaignd;
using namespace campaignd::store::pg;
using campaignd::testing::no_pg;
using campaignd::testing::pg_int;
using campaignd::testing::PgTestSchema;

namespace {

// One campaign, `n` contacts, one queued send each, due at `due(i)`.
template <typename DueFn>
void queue_sends(PgConnection& conn, int n, DueFn due) {
  REQUIRE(conn.exec("INSERT INTO campaigns (id, name, schedule_at, created_at, updated_at) "
                    "VALUES (1, 'spring', 0, 0, 0)"));
  auto s = conn.query(
      "INSERT INTO contacts (id, email, created_at, updated_at) "
      "SELECT g, 'c' || g || '@example.com', 0, 0 FROM generate_series(1, ?1) g",
      {std::int64_t{n}});
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  for (int i = 1; i <= n; ++i) {
    auto r = conn.query("INSERT INTO sends (id, campaign_id, contact_id, next_attempt_at) VALUES (?1, 1, ?1, ?2)",
                        {std::int64_t{i}, std::int64_t{due(i)}});
    REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  }
}

}  // namespace

TEST_CASE("claim_due_leased: due sends in order, under the claimer's lease" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect_migrated();
  // Sends 1..10 due at 1000 + (11 - i): send 10 is due first; 8..10 are not due at 1003? see below.
  queue_sends(*conn, 10, [](int i) { return 1000 + (11 - i); });
  REQUIRE(conn->exec("UPDATE sends SET context = '{\"re\":1}', variant = 'B' WHERE id = 9"));
  auto first = claim_due_leased(*conn, "node-a", 1005, 1305, 3);  // due: sends 6..10
  REQUIRE_MESSAGE(first, (first ? "" : first.error()));
  REQUIRE(first->size() == 3);
  CHECK((*first)[0].id == 10);
  CHECK((*first)[1].id == 9);
  CHECK((*first)[2].id == 8);
  CHECK((*first)[1].context == std::optional<std::string>("{\"re\":1}"));
  CHECK((*first)[1].variant == std::optional<std::string>("B"));
  CHECK((*first)[0].campaign_id == 1);
  CHECK((*first)[0].contact_id == 10);
  CHECK((*first)[0].attempts == 0);
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM sends WHERE state = 'sending' AND lease_owner = 'node-a' "
                      "AND lease_until = 1305 AND updated_at = 1005") == 3);
  auto second = claim_due_leased(*conn, "node-b", 1005, 1305, 100);
  REQUIRE(second);
  CHECK(second->size() == 2);  // 7 and 6: the rest are not due yet
  auto none = claim_due_leased(*conn, "node-b", 1005, 1305, 100);
  REQUIRE(none);
  CHECK(none->empty());
  auto bad = claim_due_leased(*conn, "node-b", 1005, 1305, -1);
  CHECK_FALSE(bad);  // LIMIT must not be negative: the server says so
}

TEST_CASE("claim_due_leased: two connections claiming at once never get the same send" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto setup = schema.connect_migrated();
  constexpr int kSends = 3000;
  queue_sends(*setup, kSends, [](int i) { return i % 17; });  // many ties on next_attempt_at
  constexpr int kClaimers = 2;
  std::vector<std::unique_ptr<PgConnection>> conns;
  for (int i = 0; i < kClaimers; ++i) conns.push_back(schema.connect());
  std::vector<std::vector<std::int64_t>> got(kClaimers);
  std::vector<int> batches(kClaimers, 0);
  std::vector<std::string> errors(kClaimers);
  std::barrier start(kClaimers);
  std::vector<std::thread> threads;
  for (int c = 0; c < kClaimers; ++c)
    threads.emplace_back([&, c] {
      auto& conn = *conns[static_cast<size_t>(c)];
      std::string owner = "node-" + std::to_string(c);
      start.arrive_and_wait();
      while (true) {
        auto claimed = claim_due_leased(conn, owner, 100, 400, 7);
        if (!claimed) {
          errors[static_cast<size_t>(c)] = claimed.error();
          return;
        }
        if (claimed->empty()) return;
        ++batches[static_cast<size_t>(c)];
        for (const auto& s : *claimed) got[static_cast<size_t>(c)].push_back(s.id);
      }
    });
  for (auto& t : threads) t.join();
  for (const auto& e : errors) REQUIRE_MESSAGE(e.empty(), e);

  std::set<std::int64_t> all;
  size_t total = 0;
  for (const auto& ids : got) {
    total += ids.size();
    all.insert(ids.begin(), ids.end());
  }
  CHECK(total == kSends);       // nothing handed out twice…
  CHECK(all.size() == kSends);  // …and nothing left behind
  // Both really took part (each would take all 3000 alone).
  MESSAGE("claims split " << got[0].size() << " / " << got[1].size() << " in " << batches[0] << " / " << batches[1]
                          << " batches");
  CHECK(got[0].size() > 0);
  CHECK(got[1].size() > 0);
  // The database agrees with what each claimer was told.
  for (int c = 0; c < kClaimers; ++c)
    CHECK(pg_int(*setup, "SELECT COUNT(*) FROM sends WHERE state = 'sending' AND lease_owner = ?1",
                 {"node-" + std::to_string(c)}) == static_cast<long long>(got[static_cast<size_t>(c)].size()));
}

TEST_CASE("claim_due_leased: rows another claimer holds locked are skipped, not waited for" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto a = schema.connect_migrated();
  auto b = schema.connect();
  queue_sends(*a, 10, [](int) { return 0; });
  std::set<std::int64_t> held_ids;
  {
    // Node A claims inside a transaction it has not committed yet: its rows stay locked.
    PgTransaction tx(*a);
    REQUIRE(tx.begun());
    auto held = claim_due_leased(*a, "node-a", 100, 400, 4);
    REQUIRE(held);
    REQUIRE(held->size() == 4);
    for (const auto& s : *held) held_ids.insert(s.id);
    // Node B would wait for those rows without SKIP LOCKED: a lock wait fails fast here instead.
    REQUIRE(b->exec("SET lock_timeout = '2s'"));
    auto other = claim_due_leased(*b, "node-b", 100, 400, 100);
    REQUIRE_MESSAGE(other, (other ? "" : other.error()));
    CHECK(other->size() == 6);
    for (const auto& s : *other) CHECK(held_ids.count(s.id) == 0);
  }
  // A rolled back: its four are queued again, and B takes exactly those.
  auto rest = claim_due_leased(*b, "node-b", 100, 400, 100);
  REQUIRE(rest);
  std::set<std::int64_t> rest_ids;
  for (const auto& s : *rest) rest_ids.insert(s.id);
  CHECK(rest_ids == held_ids);
}

TEST_CASE("leases: renewing, expiring, taking over, handing back" * doctest::skip(no_pg())) {
  PgTestSchema schema;
  auto conn = schema.connect_migrated();
  queue_sends(*conn, 6, [](int) { return 0; });
  auto a = claim_due_leased(*conn, "node-a", 100, 160, 3);
  auto b = claim_due_leased(*conn, "node-b", 100, 160, 3);
  REQUIRE(a);
  REQUIRE(b);
  REQUIRE(a->size() == 3);
  REQUIRE(b->size() == 3);
  // node-a keeps sending and renews; node-b died.
  auto renewed = renew_leases(*conn, "node-a", 260);
  REQUIRE(renewed);
  CHECK(*renewed == 3);
  // Not yet expired at 150: nothing released.
  auto early = release_expired_leases(*conn, 150);
  REQUIRE(early);
  CHECK(*early == 0);
  auto released = release_expired_leases(*conn, 200);
  REQUIRE(released);
  CHECK(*released == 3);  // node-b's, not node-a's renewed ones
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM sends WHERE state = 'queued' AND lease_owner IS NULL "
                      "AND attempts = 0 AND next_attempt_at = 0") == 3);
  // node-a takes node-b's batch over.
  auto taken = claim_due_leased(*conn, "node-a", 200, 300, 10);
  REQUIRE(taken);
  CHECK(taken->size() == 3);
  std::set<std::int64_t> b_ids, taken_ids;
  for (const auto& s : *b) b_ids.insert(s.id);
  for (const auto& s : *taken) taken_ids.insert(s.id);
  CHECK(b_ids == taken_ids);
  // node-b comes back: its renewal finds nothing of its own any more.
  auto late = renew_leases(*conn, "node-b", 400);
  REQUIRE(late);
  CHECK(*late == 0);
  // node-a drains: marks one sent, hands the rest back.
  REQUIRE(conn->query("UPDATE sends SET state = 'sent' WHERE id = ?1", {(*a)[0].id}));
  auto back = release_owner(*conn, "node-a", 300);
  REQUIRE(back);
  CHECK(*back == 5);
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM sends WHERE state = 'queued'") == 5);
  CHECK(pg_int(*conn, "SELECT COUNT(*) FROM sends WHERE lease_owner IS NOT NULL") == 1);  // the sent one keeps its mark
}
