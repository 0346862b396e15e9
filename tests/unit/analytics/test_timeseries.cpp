// analytics/timeseries: human opens and clicks per hour from the events table, and the dense
// series the charts draw.
#include <doctest/doctest.h>

#include <string>

#include "daemon/analytics/timeseries.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

namespace {

constexpr util::UnixTime kT0 = 1'790'000'000 / 3600 * 3600;  // an hour's start

struct SeriesFixture {
  testing::TempFolder tmp;
  store::Database db = testing::open_migrated(tmp.file("series.db"));

  SeriesFixture() {
    REQUIRE(db.exec("INSERT INTO contacts (id, email, created_at, updated_at) VALUES (1, 'a@x.example', 0, 0), "
                    "(2, 'b@x.example', 0, 0)"));
    REQUIRE(db.exec("INSERT INTO campaigns (id, name, schedule_at, created_at, updated_at) VALUES "
                    "(1, 'one', 0, 0, 0), (2, 'two', 0, 0, 0)"));
  }
  void event(std::int64_t campaign, const std::string& kind, util::UnixTime at, int machine = 0, int contact = 1) {
    auto stmt = db.prepare("INSERT INTO events (kind, contact_id, campaign_id, at, machine) VALUES (?1, ?2, ?3, ?4, ?5)");
    REQUIRE(stmt);
    stmt->bind(1, kind).bind(2, contact).bind(3, campaign).bind(4, at).bind(5, machine);
    REQUIRE(stmt->run());
  }
};

}  // namespace

TEST_CASE("hourly_series counts human opens and clicks per hour, oldest first") {
  SeriesFixture f;
  f.event(1, "opened", kT0 + 5);
  f.event(1, "opened", kT0 + 3599, 0, 2);
  f.event(1, "clicked", kT0 + 100);
  f.event(1, "opened", kT0 + 200, /*machine=*/1);      // a scanner: not counted
  f.event(1, "clicked", kT0 + 300, /*machine=*/1);
  f.event(1, "sent", kT0 + 10);                         // other kinds: not counted
  f.event(1, "replied", kT0 + 10);
  f.event(2, "opened", kT0 + 10);                       // another campaign
  f.event(1, "clicked", kT0 + 3 * 3600 + 1);
  f.event(1, "opened", kT0 + 3600);                     // exactly the next hour's start

  auto series = analytics::hourly_series(f.db, 1);
  REQUIRE_MESSAGE(series, (series ? "" : series.error()));
  REQUIRE(series->size() == 3);
  CHECK((*series)[0].hour == kT0);
  CHECK((*series)[0].opens == 2);
  CHECK((*series)[0].clicks == 1);
  CHECK((*series)[1].hour == kT0 + 3600);
  CHECK((*series)[1].opens == 1);
  CHECK((*series)[1].clicks == 0);
  CHECK((*series)[2].hour == kT0 + 3 * 3600);
  CHECK((*series)[2].opens == 0);
  CHECK((*series)[2].clicks == 1);

  auto other = analytics::hourly_series(f.db, 2);
  REQUIRE(other);
  REQUIRE(other->size() == 1);
  CHECK((*other)[0].opens == 1);

  auto none = analytics::hourly_series(f.db, 99);
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("fill_hours gives every hour of the range, zeros where nothing happened") {
  using analytics::HourlyPoint;
  std::vector<HourlyPoint> sparse = {{kT0 - 3600, 9, 9}, {kT0, 2, 1}, {kT0 + 3 * 3600, 0, 4}, {kT0 + 9 * 3600, 5, 5}};
  auto dense = analytics::fill_hours(sparse, kT0, kT0 + 4 * 3600);
  REQUIRE(dense.size() == 5);
  for (std::size_t i = 0; i < dense.size(); ++i) CHECK(dense[i].hour == kT0 + static_cast<util::UnixTime>(i) * 3600);
  CHECK(dense[0].opens == 2);  // the point before the range is left out
  CHECK(dense[0].clicks == 1);
  CHECK(dense[1].opens == 0);
  CHECK(dense[2].clicks == 0);
  CHECK(dense[3].clicks == 4);
  CHECK(dense[4].opens == 0);  // and so is the one after it

  CHECK(analytics::fill_hours(sparse, kT0, kT0).size() == 1);
  CHECK(analytics::fill_hours(sparse, kT0, kT0 - 3600).empty());
  CHECK(analytics::fill_hours({}, kT0, kT0 + 2 * 3600).size() == 3);
}

TEST_CASE("hour_start floors to the hour, also before 1970") {
  CHECK(analytics::hour_start(kT0) == kT0);
  CHECK(analytics::hour_start(kT0 + 3599) == kT0);
  CHECK(analytics::hour_start(0) == 0);
  CHECK(analytics::hour_start(-1) == -3600);
  CHECK(analytics::hour_start(-3600) == -3600);
}
