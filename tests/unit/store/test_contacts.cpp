// ContactRepository: upsert modes, the status rule, tags and lookups.
#include <doctest/doctest.h>

#include "daemon/store/contacts.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/store/topics.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using store::Contact;
using store::ContactRepository;
using store::UpsertMode;

namespace {

Contact make(const std::string& email, const std::string& first, nlohmann::json attrs,
             std::vector<std::string> tags = {}, const std::string& status = "subscribed", util::UnixTime now = 1000) {
  Contact c;
  c.email = email;
  c.first_name = first;
  c.attrs = std::move(attrs);
  c.tags = std::move(tags);
  c.status = status;
  c.created_at = c.updated_at = now;
  return c;
}

Contact must_find(ContactRepository& repo, const std::string& email) {
  auto found = repo.find_by_email(email);
  REQUIRE_MESSAGE(found, (found ? "" : found.error()));
  REQUIRE(found->has_value());
  return **found;
}

}  // namespace

TEST_CASE("contacts: insert, find by normalised email and by id") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("c.db"));
  ContactRepository repo(db);
  auto id = repo.upsert_returning_id(make("  Ann@Example.COM ", "Ann", {{"country", "CA"}, {"orders", 3}}, {"b", "a"}),
                                     UpsertMode::merge);
  REQUIRE(id);
  Contact c = must_find(repo, "ann@example.com");
  CHECK(c.id == *id);
  CHECK(c.email == "ann@example.com");
  CHECK(c.first_name == "Ann");
  CHECK(c.status == "subscribed");
  CHECK(c.attrs == nlohmann::json{{"country", "CA"}, {"orders", 3}});
  CHECK(c.tags == std::vector<std::string>{"a", "b"});
  CHECK(c.created_at == 1000);
  CHECK(must_find(repo, "ANN@example.com").id == *id);
  auto by_id = repo.find_by_id(*id);
  REQUIRE(by_id);
  REQUIRE(by_id->has_value());
  CHECK((*by_id)->email == "ann@example.com");
  auto missing = repo.find_by_id(*id + 100);
  REQUIRE(missing);
  CHECK_FALSE(missing->has_value());
  auto just_id = repo.id_for_email("Ann@example.com");
  REQUIRE(just_id);
  CHECK(*just_id == *id);
  CHECK(repo.count().value() == 1);
  // A number stays a number in the stored JSON (segments compare it as one).
  CHECK(testing::query_text(db, db.sql("SELECT json_type(attrs, '$.orders') FROM contacts",
                                       "SELECT CASE WHEN jsonb_typeof(attrs->'orders') = 'number' "
                                       "AND (attrs->>'orders') NOT LIKE '%.%' THEN 'integer' END FROM contacts")) ==
        "integer");
}

TEST_CASE("contacts: merge keeps what is not given and adds tags") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("c.db"));
  ContactRepository repo(db);
  REQUIRE(repo.upsert(make("bo@example.com", "Bo", {{"country", "CA"}, {"orders", 1}}, {"old"}), UpsertMode::merge));
  Contact again = make("bo@example.com", "", {{"orders", 5}, {"city", "Québec"}}, {"new"}, "subscribed", 2000);
  again.last_name = "Lee";
  REQUIRE(repo.upsert(again, UpsertMode::merge));
  Contact c = must_find(repo, "bo@example.com");
  CHECK(c.first_name == "Bo");  // an empty name does not overwrite
  CHECK(c.last_name == "Lee");
  CHECK(c.attrs == nlohmann::json{{"country", "CA"}, {"orders", 5}, {"city", "Québec"}});
  CHECK(c.tags == std::vector<std::string>{"new", "old"});
  CHECK(c.created_at == 1000);
  CHECK(c.updated_at == 2000);
  CHECK(repo.count().value() == 1);
}

TEST_CASE("contacts: replace makes names, attrs and tags exactly the given ones") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("c.db"));
  ContactRepository repo(db);
  REQUIRE(repo.upsert(make("cy@example.com", "Cy", {{"country", "CA"}, {"orders", 1}}, {"x", "y"}), UpsertMode::merge));
  REQUIRE(repo.upsert(make("cy@example.com", "", {{"orders", 2}}, {"z"}), UpsertMode::replace));
  Contact c = must_find(repo, "cy@example.com");
  CHECK(c.first_name.empty());
  CHECK(c.attrs == nlohmann::json{{"orders", 2}});
  CHECK(c.tags == std::vector<std::string>{"z"});
}

TEST_CASE("contacts: status only moves towards opted-out") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("c.db"));
  ContactRepository repo(db);
  REQUIRE(repo.upsert(make("u@example.com", "U", {}, {}, "unsubscribed"), UpsertMode::merge));
  REQUIRE(repo.upsert(make("u@example.com", "U", {}, {}, "subscribed"), UpsertMode::merge));
  REQUIRE(repo.upsert(make("u@example.com", "U", {}, {}, "subscribed"), UpsertMode::replace));
  CHECK(must_find(repo, "u@example.com").status == "unsubscribed");

  REQUIRE(repo.upsert(make("b@example.com", "B", {}, {}, "bounced"), UpsertMode::merge));
  REQUIRE(repo.upsert(make("b@example.com", "B", {}, {}, "unsubscribed"), UpsertMode::merge));
  CHECK(must_find(repo, "b@example.com").status == "bounced");

  REQUIRE(repo.upsert(make("p@example.com", "P", {}, {}, "pending"), UpsertMode::merge));
  REQUIRE(repo.upsert(make("p@example.com", "P", {}, {}, "subscribed"), UpsertMode::merge));
  CHECK(must_find(repo, "p@example.com").status == "pending");  // only a confirmation subscribes
  REQUIRE(repo.upsert(make("p@example.com", "P", {}, {}, "complained"), UpsertMode::merge));
  CHECK(must_find(repo, "p@example.com").status == "complained");

  REQUIRE(repo.upsert(make("s@example.com", "S", {}, {}, "subscribed"), UpsertMode::merge));
  REQUIRE(repo.upsert(make("s@example.com", "S", {}, {}, "unsubscribed"), UpsertMode::merge));
  CHECK(must_find(repo, "s@example.com").status == "unsubscribed");

  CHECK_FALSE(repo.upsert(make("x@example.com", "X", {}, {}, "gone"), UpsertMode::merge));
  CHECK_FALSE(repo.upsert(make("  ", "X", {}), UpsertMode::merge));
  CHECK_FALSE(repo.upsert(make("y@example.com", "Y", nlohmann::json::array()), UpsertMode::merge));
}

TEST_CASE("contacts: set_status, add_tag and erase") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("c.db"));
  ContactRepository repo(db);
  auto id = repo.upsert_returning_id(make("d@example.com", "D", {}, {"t"}), UpsertMode::merge);
  REQUIRE(id);
  REQUIRE(repo.set_status(*id, "unsubscribed", 5000));
  Contact c = must_find(repo, "d@example.com");
  CHECK(c.status == "unsubscribed");
  CHECK(c.updated_at == 5000);
  REQUIRE(repo.set_status(*id, "subscribed"));  // an explicit re-subscription is allowed here
  CHECK(must_find(repo, "d@example.com").updated_at > 5000);
  CHECK_FALSE(repo.set_status(*id, "nonsense"));
  CHECK(repo.set_status(*id + 99, "bounced"));  // nobody there: nothing happens
  REQUIRE(repo.add_tag(*id, "t2"));
  REQUIRE(repo.add_tag(*id, "t2"));
  CHECK(must_find(repo, "d@example.com").tags == std::vector<std::string>{"t", "t2"});
  REQUIRE(repo.erase(*id));
  CHECK_FALSE(repo.find_by_email("d@example.com").value().has_value());
  CHECK(testing::query_int(db, "SELECT count(*) FROM contact_tags") == 0);
}

TEST_CASE("contacts: find_many reads several contacts and their tags at once") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("c.db"));
  ContactRepository repo(db);
  auto a = repo.upsert_returning_id(make("a@example.com", "A", {{"n", 1}}, {"y", "x"}), UpsertMode::merge);
  auto b = repo.upsert_returning_id(make("b@example.com", "B", nlohmann::json::object()), UpsertMode::merge);
  auto c = repo.upsert_returning_id(make("c@example.com", "C", {{"k", "v"}}, {"z"}), UpsertMode::merge);
  REQUIRE((a && b && c));
  auto many = repo.find_many({*c, *a, *c + 100, *b});
  REQUIRE(many);
  REQUIRE(many->size() == 3);
  CHECK((*many)[0].id == *a);  // by id
  CHECK((*many)[0].email == "a@example.com");
  CHECK((*many)[0].attrs == nlohmann::json{{"n", 1}});
  CHECK((*many)[0].tags == std::vector<std::string>{"x", "y"});
  CHECK((*many)[1].id == *b);
  CHECK((*many)[1].tags.empty());
  CHECK((*many)[2].id == *c);
  CHECK((*many)[2].tags == std::vector<std::string>{"z"});
  auto one = repo.find_by_id(*a);
  REQUIRE(one);
  CHECK((*one)->tags == (*many)[0].tags);
  auto none = repo.find_many({});
  REQUIRE(none);
  CHECK(none->empty());
}

TEST_CASE("contacts: mailability reads status, suppression and topic in one statement") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("c.db"));
  ContactRepository repo(db);
  auto id = repo.upsert_returning_id(make("Ann@example.com", "Ann", nlohmann::json::object()), UpsertMode::merge);
  REQUIRE(id);
  auto m = repo.mailability(*id, std::nullopt);
  REQUIRE(m);
  REQUIRE(m->has_value());
  CHECK((*m)->status == "subscribed");
  CHECK((*m)->email == "ann@example.com");
  CHECK_FALSE((*m)->suppressed);
  CHECK_FALSE((*m)->left_topic);

  REQUIRE(store::SuppressionRepository(db).add("ANN@example.com", "manual", 1000));
  REQUIRE(store::TopicRepository(db).set(*id, "news", false, 1000));
  REQUIRE(repo.set_status(*id, "unsubscribed", 1001));
  m = repo.mailability(*id, std::string("news"));
  REQUIRE(m);
  REQUIRE(m->has_value());
  CHECK((*m)->status == "unsubscribed");
  CHECK((*m)->suppressed);
  CHECK((*m)->left_topic);
  m = repo.mailability(*id, std::string("offers"));
  REQUIRE(m);
  CHECK_FALSE((*m)->left_topic);

  m = repo.mailability(*id + 100, std::nullopt);
  REQUIRE(m);
  CHECK_FALSE(m->has_value());
}
