// RFM quintiles on known distributions: cut points, scores, ties, non-buyers, and the segment
// fields agreeing with the C++ scoring.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "daemon/analytics/contact_analytics.hpp"
#include "daemon/analytics/rfm.hpp"
#include "daemon/segments/compiler.hpp"
#include "tests/unit/analytics/analytics_fixture.hpp"

using namespace campaignd;
using namespace campaignd::analytics;
using namespace campaignd::analytics::testing;

namespace {

// The emails (local parts) a segment selects, in id order.
std::vector<std::string> select(Db& d, const std::string& expression) {
  auto compiled = segments::compile_segment(expression, kNow, d.db.dialect());
  REQUIRE(compiled);
  const std::string find = std::string(d.db.sql("instr", "strpos"));
  auto stmt = d.db.prepare("SELECT substr(c.email, 1, " + find + "(c.email, '@') - 1) FROM contacts c WHERE " +
                           compiled->where_sql + " ORDER BY c.id");
  REQUIRE(stmt);
  stmt->bind_all(compiled->params);
  std::vector<std::string> out;
  REQUIRE(stmt->each([&](const store::Statement& r) { out.push_back(r.column_text(0)); }));
  return out;
}

}  // namespace

TEST_CASE("rfm: quintile_score counts the cut points strictly below the value") {
  std::array<double, 4> cuts{2, 4, 6, 8};
  CHECK(quintile_score(1, cuts) == 1);
  CHECK(quintile_score(2, cuts) == 1);
  CHECK(quintile_score(2.5, cuts) == 2);
  CHECK(quintile_score(6, cuts) == 3);
  CHECK(quintile_score(8, cuts) == 4);
  CHECK(quintile_score(9, cuts) == 5);
  CHECK(quintile_score(1e9, cuts) == 5);
  CHECK(RfmScores{5, 4, 3}.code() == 543);
  CHECK(RfmScores{5, 4, 3}.total() == 12);
}

TEST_CASE("rfm: ten buyers with distinct figures fall two to a quintile") {
  Db d;
  // Buyer i (1..10) bought i times, i*10 each time, the last time (11 - i) * 10 days ago: buyer
  // 10 is the most recent, most frequent and biggest spender. Buyer 1's figures are reversed on
  // monetary to check the dimensions are independent: see m below.
  std::vector<std::int64_t> buyers;
  for (int i = 1; i <= 10; ++i) {
    auto id = d.contact("b" + std::to_string(i) + "@example.com");
    buyers.push_back(id);
    for (int k = 0; k < i; ++k)
      d.event({"purchase", id, {}, {}, kNow - (11 - i) * 10 * kDay - k * kDay, static_cast<double>((11 - i) * 10)});
  }
  auto none = d.contact("none@example.com");
  d.event({"opened", none, {}, {}, kNow});  // stats row, but no purchase

  CHECK(select(d, "rfm_score > 0").empty());  // no boundaries yet
  auto before = load_rfm_boundaries(d.db);
  REQUIRE(before);
  CHECK_FALSE(*before);

  REQUIRE(refresh_rfm(d.db, kNow));
  auto b = load_rfm_boundaries(d.db);
  REQUIRE(b);
  REQUIRE(*b);
  CHECK((*b)->population == 10);
  CHECK((*b)->computed_at == kNow);
  // Frequencies 1..10: cut points at ranks 2, 4, 6, 8.
  CHECK((*b)->frequency == std::array<double, 4>{2, 4, 6, 8});
  // Monetary: buyer i spent i * (11 - i) * 10: 100 180 240 280 300 300 280 240 180 100; sorted
  // 100 100 180 180 240 240 280 280 300 300.
  CHECK((*b)->monetary == std::array<double, 4>{100, 180, 240, 280});

  for (int i = 1; i <= 10; ++i) {
    auto a = contact_analytics(d.db, buyers[static_cast<size_t>(i - 1)], kNow);
    REQUIRE(a);
    REQUIRE(a->rfm);
    int expected_rf = (i + 1) / 2;  // 1,1,2,2,...,5,5
    CHECK(a->rfm->r == expected_rf);
    CHECK(a->rfm->f == expected_rf);
    int spent = i * (11 - i) * 10;
    int expected_m = spent <= 100 ? 1 : spent <= 180 ? 2 : spent <= 240 ? 3 : spent <= 280 ? 4 : 5;
    CHECK(a->rfm->m == expected_m);
    CHECK(a->recency_days == (11 - i) * 10);
  }
  auto n = contact_analytics(d.db, none, kNow);
  REQUIRE(n);
  CHECK_FALSE(n->rfm);

  // The segment fields give the same scores.
  CHECK(select(d, "r_score = 5") == std::vector<std::string>{"b9", "b10"});
  CHECK(select(d, "f_score = 1") == std::vector<std::string>{"b1", "b2"});
  CHECK(select(d, "m_score = 5") == std::vector<std::string>{"b5", "b6"});
  CHECK(select(d, "m_score = 1") == std::vector<std::string>{"b1", "b10"});
  CHECK(select(d, "rfm_score = 551") == std::vector<std::string>{"b10"});
  CHECK(select(d, "rfm_score = 335") == std::vector<std::string>{"b5", "b6"});
  CHECK(select(d, "rfm_total >= 12") == std::vector<std::string>{"b7", "b9"});  // 4+4+4, 5+5+2
  CHECK(select(d, "rfm_score >= 100").size() == 10);  // the non-buyer has none
  CHECK(select(d, "not rfm_score >= 100") == std::vector<std::string>{"none"});
  CHECK(select(d, "recency_days <= 20") == std::vector<std::string>{"b9", "b10"});
  CHECK(select(d, "frequency >= 9 and monetary >= 180") == std::vector<std::string>{"b9"});

  // A purchase after the refresh moves a buyer at once (recency is a time, not an age).
  d.event({"purchase", buyers[0], {}, {}, kNow + 60});
  CHECK(select(d, "r_score = 5") == std::vector<std::string>{"b1", "b9", "b10"});
  CHECK(select(d, "f_score = 1") == std::vector<std::string>{"b1", "b2"});  // 2 purchases: not above 2
}

TEST_CASE("rfm: equal values share the lower score; nobody bought means no boundaries") {
  Db d;
  REQUIRE(refresh_rfm(d.db, kNow));
  auto empty = load_rfm_boundaries(d.db);
  REQUIRE(empty);
  CHECK_FALSE(*empty);
  // Seven buyers of one purchase, three of two: the ones all score 1 on frequency.
  for (int i = 0; i < 10; ++i) {
    auto id = d.contact("t" + std::to_string(i) + "@example.com");
    d.event({"purchase", id, {}, {}, kNow - kDay, 50.0});
    if (i >= 7) d.event({"purchase", id, {}, {}, kNow - 2 * kDay, 50.0});
  }
  REQUIRE(refresh_rfm(d.db, kNow));
  auto b = load_rfm_boundaries(d.db);
  REQUIRE(b);
  REQUIRE(*b);
  CHECK((*b)->frequency == std::array<double, 4>{1, 1, 1, 2});
  CHECK(select(d, "f_score = 1").size() == 7);
  CHECK(select(d, "f_score = 4").size() == 3);
  CHECK(select(d, "m_score = 4").size() == 3);  // 100 is above 50, 50, 50 but not above 100
  CHECK(select(d, "r_score = 1").size() == 10);  // everyone's last purchase at the same time

  // Everyone forgotten: the refresh clears the boundaries.
  REQUIRE(d.db.exec("DELETE FROM contacts"));
  REQUIRE(refresh_rfm(d.db, kNow));
  auto cleared = load_rfm_boundaries(d.db);
  REQUIRE(cleared);
  CHECK_FALSE(*cleared);
}

TEST_CASE("rfm: refresh_rfm works inside a transaction (as a writer job runs it)") {
  Db d;
  auto id = d.contact("x@example.com");
  d.event({"purchase", id, {}, {}, kNow, 5.0});
  REQUIRE(d.db.exec(d.db.begin_write_sql()));
  REQUIRE(refresh_rfm(d.db, kNow));
  REQUIRE(d.db.exec("COMMIT"));
  CHECK(select(d, "rfm_score = 111") == std::vector<std::string>{"x"});
}
