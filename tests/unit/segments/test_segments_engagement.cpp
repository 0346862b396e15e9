// "A segment built on engagement picks exactly the contacts the events say it should": random
// but reproducible event histories for 300 contacts, and for each engagement expression the
// contacts it selects compared with what a plain C++ reading of the same events says.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/analytics/engagement.hpp"
#include "daemon/segments/compiler.hpp"
#include "daemon/store/database.hpp"
#include "daemon/store/migrations.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

namespace {

constexpr util::UnixTime kNow = 1'800'000'000;
constexpr std::int64_t kDay = 86400;

struct Ev {
  std::string kind;
  util::UnixTime at;
  bool machine;
};

struct Person {
  std::int64_t id = 0;
  std::vector<Ev> events;
};

class World {
 public:
  World() : db_(*store::Database::open(campaignd::testing::store_target(":memory:"))) {
    REQUIRE(store::migrate(db_));
    std::uint32_t seed = 20261124;
    auto next = [&](std::uint32_t n) {
      seed = seed * 1664525u + 1013904223u;
      return (seed >> 8) % n;
    };
    const char* kinds[] = {"opened", "clicked", "replied", "sent", "delivered", "purchase", "bounced"};
    for (int i = 0; i < 300; ++i) {
      Person p;
      p.id = insert_contact("c" + std::to_string(i) + "@example.com");
      int n = static_cast<int>(next(8));
      for (int k = 0; k < n; ++k) {
        Ev e{kinds[next(7)], kNow - static_cast<std::int64_t>(next(200)) * kDay - next(kDay), next(6) == 0};
        // Some events sit exactly on the boundaries the expressions below use.
        if (next(10) == 0) e.at = kNow - 30 * kDay;
        if (next(10) == 0) e.at = kNow - 90 * kDay;
        p.events.push_back(e);
      }
      // Arrival order is not time order.
      for (const auto& e : p.events) insert_event(p.id, e);
      people_.push_back(std::move(p));
    }
  }

  // Contact ids the segment selects.
  std::vector<std::int64_t> select(const std::string& expression) {
    auto compiled = segments::compile_segment(expression, kNow, db_.dialect());
    REQUIRE(compiled);
    auto stmt = db_.prepare("SELECT c.id FROM contacts c WHERE " + compiled->where_sql + " ORDER BY c.id");
    REQUIRE(stmt);
    stmt->bind_all(compiled->params);
    std::vector<std::int64_t> out;
    REQUIRE(stmt->each([&](const store::Statement& r) { out.push_back(r.column_int(0)); }));
    return out;
  }

  // Contact ids for which `test` holds over their own events.
  std::vector<std::int64_t> expected(const std::function<bool(const std::vector<Ev>&)>& test) const {
    std::vector<std::int64_t> out;
    for (const auto& p : people_)
      if (test(p.events)) out.push_back(p.id);
    return out;
  }

 private:
  std::int64_t insert_contact(const std::string& email) {
    auto stmt = db_.prepare("INSERT INTO contacts (email, created_at, updated_at) VALUES (?, 0, 0) RETURNING id");
    REQUIRE(stmt);
    auto id = stmt->bind(1, std::string_view(email)).single_int();
    REQUIRE(id);
    REQUIRE(*id);
    return **id;
  }
  void insert_event(std::int64_t contact, const Ev& e) {
    auto stmt = db_.prepare("INSERT INTO events (kind, contact_id, at, machine, amount) VALUES (?, ?, ?, ?, ?)");
    REQUIRE(stmt);
    stmt->bind(1, std::string_view(e.kind)).bind(2, contact).bind(3, e.at).bind(4, e.machine ? 1 : 0);
    if (e.kind == "purchase") stmt->bind(5, 10.0);
    else stmt->bind(5, nullptr);  // PostgreSQL wants every parameter bound
    auto ran = stmt->run();
    REQUIRE_MESSAGE(ran, (ran ? "" : ran.error()));
  }

  store::Database db_;
  std::vector<Person> people_;
};

bool any_within(const std::vector<Ev>& events, const std::string& kind, std::int64_t seconds, bool human_only) {
  for (const auto& e : events)
    if (e.kind == kind && e.at >= kNow - seconds && !(human_only && e.machine)) return true;
  return false;
}

double score(const std::vector<Ev>& events) {
  double s = 0;
  for (const auto& e : events)
    if (!e.machine)
      s += analytics::engagement_weight(e.kind) *
           std::exp2(-static_cast<double>(kNow - e.at) / static_cast<double>(analytics::kEngagementHalfLifeSeconds));
  return s;
}

}  // namespace

TEST_CASE("segments: engagement functions select exactly the contacts their events say") {
  World w;
  for (std::int64_t days : {7, 30, 90, 180}) {
    std::string d = "\"" + std::to_string(days) + "d\"";
    std::int64_t s = days * kDay;
    CAPTURE(days);
    // Human only: a machine open or click never makes a contact "opened".
    CHECK(w.select("opened_within(" + d + ")") ==
          w.expected([&](const auto& ev) { return any_within(ev, "opened", s, true); }));
    CHECK(w.select("clicked_within(" + d + ")") ==
          w.expected([&](const auto& ev) { return any_within(ev, "clicked", s, true); }));
    CHECK(w.select("replied_within(" + d + ")") ==
          w.expected([&](const auto& ev) { return any_within(ev, "replied", s, true); }));
    CHECK(w.select("received_within(" + d + ")") ==
          w.expected([&](const auto& ev) { return any_within(ev, "sent", s, false); }));
    CHECK(w.select("purchased_within(" + d + ")") ==
          w.expected([&](const auto& ev) { return any_within(ev, "purchase", s, false); }));
    CHECK(w.select("not opened_within(" + d + ") and received_within(" + d + ")") == w.expected([&](const auto& ev) {
      return !any_within(ev, "opened", s, true) && any_within(ev, "sent", s, false);
    }));
  }
  // The data is not degenerate: every function splits the contacts.
  for (const char* f : {"opened_within", "clicked_within", "replied_within", "received_within", "purchased_within"}) {
    auto n = w.select(std::string(f) + "(\"90d\")").size();
    CHECK(n > 20);
    CHECK(n < 250);
  }
  CHECK(w.select("engagement_score > 1.2").size() > 20);
  CHECK(w.select("engagement_score > 1.2").size() < w.select("engagement_score > 0.3").size());
  // The window includes its boundary: an event exactly 30 days old is within 30d, not 29d.
  CHECK_FALSE(w.select("opened_within(\"30d\")").empty());

  for (double t : {0.0, 0.3, 0.7, 1.2, 2.2, 3.3, 5.1}) {
    CAPTURE(t);
    // Scores within a hair of the threshold would make the comparison depend on rounding.
    auto selected = w.select("engagement_score > " + std::to_string(t));
    auto wanted = w.expected([&](const auto& ev) { return score(ev) > t + 1e-9; });
    auto unsure = w.expected([&](const auto& ev) { return std::abs(score(ev) - t) <= 1e-9 && t > 0; });
    CHECK(unsure.empty());
    CHECK(selected == wanted);
  }
  CHECK(w.select("engagement_score = 0") == w.expected([](const auto& ev) { return score(ev) == 0; }));
  // The shipped engaged-90d rule's expression.
  CHECK(w.select("opened_within(\"90d\") or clicked_within(\"90d\") or replied_within(\"90d\")") ==
        w.expected([](const auto& ev) {
          return any_within(ev, "opened", 90 * kDay, true) || any_within(ev, "clicked", 90 * kDay, true) ||
                 any_within(ev, "replied", 90 * kDay, true);
        }));
  CHECK(w.select("frequency >= 2") == w.expected([](const auto& ev) {
    int n = 0;
    for (const auto& e : ev) n += e.kind == "purchase";
    return n >= 2;
  }));
}
