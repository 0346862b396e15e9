// SuppressionRepository: keyed by the hash of the normalised address, survives forget.
#include <doctest/doctest.h>

#include "daemon/store/suppressions.hpp"
#include "daemon/util/crypto.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

TEST_CASE("suppressions: add, check, list, forget, remove") {
  testing::TempFolder tmp;
  auto db = testing::open_migrated(tmp.file("s.db"));
  store::SuppressionRepository repo(db);
  REQUIRE(repo.add(" Spam@Example.com ", "complained", 100));
  REQUIRE(repo.add("spam@example.com", "unsubscribed", 200));  // the first entry stays
  REQUIRE(repo.add("other@example.org", "unsubscribed", 150));
  CHECK_FALSE(repo.add("", "x", 1));
  CHECK_FALSE(repo.add("z@example.com", "", 1));

  CHECK(repo.is_suppressed("SPAM@example.com").value());
  CHECK_FALSE(repo.is_suppressed("ham@example.com").value());

  auto list = repo.list();
  REQUIRE(list);
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].email == std::optional<std::string>("spam@example.com"));
  CHECK((*list)[0].reason == "complained");
  CHECK((*list)[0].created_at == 100);
  CHECK((*list)[0].email_hash == util::sha256_hex("spam@example.com"));
  CHECK((*list)[0].email_hash == store::suppression_key("Spam@Example.com"));

  auto keys = repo.all_keys();
  REQUIRE(keys);
  CHECK(keys->size() == 2);
  CHECK(keys->contains(util::sha256_hex("other@example.org")));

  REQUIRE(repo.forget("spam@example.com"));
  CHECK(repo.is_suppressed("spam@example.com").value());
  CHECK_FALSE(repo.list().value()[0].email.has_value());

  REQUIRE(repo.remove("Other@example.org"));
  REQUIRE(repo.remove("never@example.org"));
  CHECK_FALSE(repo.is_suppressed("other@example.org").value());
  CHECK(repo.list().value().size() == 1);
}
