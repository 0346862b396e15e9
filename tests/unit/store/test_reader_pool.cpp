// store/reader_pool: a few connections lent one at a time, reused, waited for when all are out,
// and opened again after PostgreSQL dropped them.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "daemon/store/reader_pool.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using namespace std::chrono_literals;

namespace {

std::string connection_id(const store::Database& db) {
  auto stmt = db.prepare(db.sql("SELECT CAST(random() AS TEXT)", "SELECT CAST(pg_backend_pid() AS TEXT)"));
  REQUIRE(stmt);
  REQUIRE(*stmt->step());
  return stmt->column_text(0);
}

}  // namespace

TEST_CASE("reader pool: lends at most its size, reuses what comes back, waits, then gives up") {
  testing::TempFolder tmp;
  auto store = store::Store::open(testing::store_target(tmp.file("var/campaignd.db")));
  REQUIRE_MESSAGE(store, (store ? "" : store.error()));
  store::ReaderPool pool(testing::store_target(tmp.file("var/campaignd.db")), 2);

  const store::Database* first_db = nullptr;
  {
    auto a = pool.borrow();
    REQUIRE_MESSAGE(a, (a ? "" : a.error()));
    first_db = &**a;
    CHECK(testing::query_int(**a, "SELECT COUNT(*) FROM campaigns") == 0);
  }
  auto a = pool.borrow();
  REQUIRE(a);
  CHECK(&**a == first_db);  // the one given back, not a new connection
  auto b = pool.borrow();
  REQUIRE(b);
  CHECK(&**b != &**a);

  auto started = std::chrono::steady_clock::now();
  auto c = pool.borrow(100ms);
  REQUIRE_FALSE(c);
  CHECK(c.error().find("busy") != std::string::npos);
  CHECK(std::chrono::steady_clock::now() - started >= 100ms);

  // One given back on another thread reaches a waiting borrower.
  std::thread giver([lease = std::move(*b)]() mutable {
    std::this_thread::sleep_for(50ms);
    auto gone = std::move(lease);
  });
  auto d = pool.borrow(5s);
  giver.join();
  REQUIRE(d);
}

TEST_CASE("reader pool: a connection PostgreSQL dropped is opened again when lent next") {
  if (!testing::testing_on_postgresql()) return;  // SQLite files are not dropped
  testing::TempFolder tmp;
  auto target = testing::store_target(tmp.file("var/campaignd.db"));
  auto store = store::Store::open(target);
  REQUIRE(store);
  store::ReaderPool pool(target, 1);
  std::string pid;
  {
    auto a = pool.borrow();
    REQUIRE(a);
    pid = connection_id(**a);
    REQUIRE(testing::query_int(**a, "SELECT COUNT(*) FROM campaigns") == 0);  // a cached statement
  }
  auto killer = (*store)->open_reader();
  REQUIRE(killer);
  REQUIRE(testing::query_int(*killer, "SELECT pg_terminate_backend(" + pid + ")::int") == 1);
  {
    auto a = pool.borrow();
    REQUIRE(a);
    CHECK_FALSE((*a)->exec("SELECT 1"));  // libpq learns of it here
  }
  auto a = pool.borrow();
  REQUIRE_MESSAGE(a, (a ? "" : a.error()));
  CHECK(connection_id(**a) != pid);
  CHECK(testing::query_int(**a, "SELECT COUNT(*) FROM campaigns") == 0);
}
