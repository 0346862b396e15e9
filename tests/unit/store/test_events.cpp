// EventRepository: idempotency by provider event id, optional columns, reading back.
#include <doctest/doctest.h>

#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

TEST_CASE("events: insert, ignore a known provider id, read back") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("e.db"));
  store::Contact c;
  c.email = "e@example.com";
  c.updated_at = 10;
  auto contact_id = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
  REQUIRE(contact_id);

  store::EventRepository events(db);
  store::Event e;
  e.kind = "purchase";
  e.contact_id = *contact_id;
  e.at = 100;
  e.amount = 19.5;
  e.provider_event_id = "shop:1";
  e.data = {{"sku", "A-1"}};
  CHECK(events.insert_if_new(e).value());
  CHECK_FALSE(events.insert_if_new(e).value());
  CHECK(events.insert(e));

  store::Event open;
  open.kind = "opened";
  open.contact_id = *contact_id;
  open.at = 50;
  open.machine = true;
  CHECK(events.insert(open));
  CHECK(events.insert(open));  // no provider id: every insert is a new event

  auto list = events.for_contact(*contact_id);
  REQUIRE(list);
  REQUIRE(list->size() == 3);
  CHECK((*list)[0].kind == "opened");
  CHECK((*list)[0].machine);
  CHECK_FALSE((*list)[0].amount.has_value());
  CHECK_FALSE((*list)[0].campaign_id.has_value());
  CHECK((*list)[2].kind == "purchase");
  CHECK((*list)[2].amount == doctest::Approx(19.5));
  CHECK((*list)[2].provider_event_id == std::optional<std::string>("shop:1"));
  CHECK((*list)[2].data["sku"] == "A-1");

  store::Event nameless;
  CHECK_FALSE(events.insert(nameless));
}
