// Segment expressions run as SQL against a real, migrated SQLite database: which contacts match.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/analytics/rfm.hpp"
#include "daemon/segments/catalog.hpp"
#include "daemon/segments/compiler.hpp"
#include "daemon/store/database.hpp"
#include "daemon/store/migrations.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using namespace campaignd::segments;

namespace {

constexpr util::UnixTime kNow = 1'800'000'000;
constexpr std::int64_t kDay = 86400;

// An in-memory database with five contacts (ann, bob, cat, dan, eve @example.com) whose attrs,
// tags and events exercise every part of the language.
class Contacts {
 public:
  Contacts() : db_(*store::Database::open(campaignd::testing::store_target(":memory:"))) {
    REQUIRE(store::migrate(db_));
    ann_ = add("ann", "subscribed", R"({"country":"CA","orders":3,"vip":true,"city":"Toronto","rfm_score":555})",
               kNow - 400 * kDay);
    bob_ = add("bob", "subscribed", R"({"country":"US","orders":1,"vip":false,"city":"Boston","signup source":"web"})");
    cat_ = add("cat", "unsubscribed", R"({"country":"CA","orders":"3"})");
    dan_ = add("dan", "subscribed", R"({"we\"ird":1,"back\\slash":"yes"})");
    eve_ = add("eve", "bounced", R"({"country":"ca","orders":2.5,"note":""})");
    tag(ann_, "vip");
    tag(bob_, "newsletter");

    event(ann_, "opened", kNow - 10 * kDay);
    event(ann_, "sent", kNow - 1 * kDay);
    event(bob_, "opened", kNow - 10 * kDay, 0, 1);  // a scanner's prefetch
    event(bob_, "clicked", kNow - 40 * kDay);
    event(dan_, "opened", kNow - 40 * kDay);
    event(dan_, "replied", kNow - 2 * kDay);
    event(ann_, "purchase", kNow - 5 * kDay, 100.0);
    event(ann_, "purchase", kNow - 100 * kDay, 50.0);
    event(bob_, "purchase", kNow - 200 * kDay, 20.0);
  }

  // The names of the contacts the expression selects, sorted.
  std::vector<std::string> match(std::string_view expression) {
    auto compiled = compile_segment(expression, kNow, db_.dialect());
    if (!compiled) FAIL("compile failed at col ", compiled.error().col, ": ", compiled.error().message);
    CHECK(std::count(compiled->where_sql.begin(), compiled->where_sql.end(), '?') ==
          static_cast<long>(compiled->params.size()));
    auto stmt = db_.prepare("SELECT substr(c.email, 1, 3) FROM contacts c WHERE " + compiled->where_sql +
                            " ORDER BY c.email");
    if (!stmt) FAIL(stmt.error(), " in ", compiled->where_sql);
    stmt->bind_all(compiled->params);
    std::vector<std::string> names;
    while (true) {
      auto row = stmt->step();
      if (!row) FAIL(row.error(), " in ", compiled->where_sql);
      if (!*row) break;
      names.push_back(stmt->column_text(0));
    }
    return names;
  }

  void refresh_rfm() { REQUIRE(analytics::refresh_rfm(db_, kNow)); }

  std::int64_t count_contacts() {
    auto stmt = db_.prepare("SELECT COUNT(*) FROM contacts");
    REQUIRE(stmt);
    REQUIRE(stmt->step().value_or(false));
    return stmt->column_int(0);
  }

 private:
  std::int64_t add(const std::string& name, const std::string& status, const std::string& attrs,
                   util::UnixTime created = kNow) {
    auto stmt = db_.prepare(
        "INSERT INTO contacts (email, first_name, status, attrs, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id");
    REQUIRE(stmt);
    // string_view: a std::string argument would be ambiguous among Statement::bind's overloads.
    const std::string email = name + "@example.com";
    stmt->bind(1, std::string_view(email)).bind(2, std::string_view(name)).bind(3, std::string_view(status));
    stmt->bind(4, std::string_view(attrs)).bind(5, created).bind(6, created);
    auto id = stmt->single_int();
    REQUIRE(id);
    REQUIRE(*id);
    return **id;
  }
  void tag(std::int64_t contact, const std::string& tag) {
    auto stmt = db_.prepare("INSERT INTO contact_tags (contact_id, tag) VALUES (?, ?)");
    REQUIRE(stmt);
    REQUIRE(stmt->bind(1, contact).bind(2, std::string_view(tag)).run());
  }
  void event(std::int64_t contact, const std::string& kind, util::UnixTime at, double amount = 0, int machine = 0) {
    auto stmt = db_.prepare("INSERT INTO events (contact_id, kind, at, amount, machine) VALUES (?, ?, ?, ?, ?)");
    REQUIRE(stmt);
    stmt->bind(1, contact).bind(2, std::string_view(kind)).bind(3, at).bind(5, machine);
    if (amount != 0) stmt->bind(4, amount);
    else stmt->bind(4, nullptr);  // PostgreSQL wants every parameter bound
    auto ran = stmt->run();
    REQUIRE_MESSAGE(ran, (ran ? "" : ran.error()));
  }

  store::Database db_;
  std::int64_t ann_ = 0, bob_ = 0, cat_ = 0, dan_ = 0, eve_ = 0;
};

using Names = std::vector<std::string>;
const Names kEveryone = {"ann", "bob", "cat", "dan", "eve"};

}  // namespace

TEST_CASE("segments sql: comparisons, numbers against numbers and text against text") {
  Contacts c;
  CHECK(c.match("country = \"CA\"") == Names{"ann", "cat"});
  CHECK(c.match("country = 'ca'") == Names{"eve"});
  CHECK(c.match("orders >= 2") == Names{"ann", "eve"});  // cat's "3" is text, not a number
  CHECK(c.match("orders = 3") == Names{"ann"});
  CHECK(c.match("orders = \"3\"") == Names{"cat"});
  CHECK(c.match("orders = 3.0") == Names{"ann"});
  CHECK(c.match("orders > 2.4") == Names{"ann", "eve"});
  CHECK(c.match("orders < 2") == Names{"bob"});
  CHECK(c.match("orders > \"1\"") == Names{"cat"});  // text orders only against text
  CHECK(c.match("country < \"D\"") == Names{"ann", "cat"});
  CHECK(c.match("country > 0").empty());
  CHECK(c.match("orders <= 1") == Names{"bob"});
  CHECK(c.match("orders > -1 and orders < 3") == Names{"bob", "eve"});
  CHECK(c.match("first_name = \"dan\"") == Names{"dan"});
  CHECK(c.match("email = \"eve@example.com\"") == Names{"eve"});
  CHECK(c.match("status = \"bounced\"") == Names{"eve"});
  CHECK(c.match("created_at < \"2027-01-01\"") == Names{"ann"});
  CHECK(c.match("created_at >= 1700000000") == kEveryone);
}

TEST_CASE("segments sql: a missing attribute fails a comparison and passes its negation") {
  Contacts c;
  CHECK(c.match("country != \"CA\"") == Names{"bob", "dan", "eve"});
  CHECK(c.match("not (country = \"CA\")") == Names{"bob", "dan", "eve"});
  CHECK(c.match("not (orders < 2)") == Names{"ann", "cat", "dan", "eve"});
  CHECK(c.match("nonexistent = 1 or nonexistent != 1") == kEveryone);
  CHECK(c.match("nonexistent > 0").empty());
  CHECK(c.match("not nonexistent > 0") == kEveryone);
}

TEST_CASE("segments sql: and, or, not and parentheses") {
  Contacts c;
  CHECK(c.match("country = \"CA\" and orders >= 2 and not unsubscribed") == Names{"ann"});
  CHECK(c.match("country = \"US\" or country = \"CA\" and unsubscribed") == Names{"bob", "cat"});
  CHECK(c.match("(country = \"US\" or country = \"CA\") and unsubscribed") == Names{"cat"});
  CHECK(c.match("not not subscribed") == Names{"ann", "bob", "dan"});
  CHECK(c.match("UNSUBSCRIBED Or Bounced") == Names{"cat", "eve"});
}

TEST_CASE("segments sql: in, not in and contains") {
  Contacts c;
  CHECK(c.match("country in [\"CA\", \"US\"]") == Names{"ann", "bob", "cat"});
  CHECK(c.match("orders in [1, 2.5, \"3\"]") == Names{"bob", "cat", "eve"});
  CHECK(c.match("country not in [\"CA\"]") == Names{"bob", "dan", "eve"});
  CHECK(c.match("country in []").empty());
  CHECK(c.match("country not in []") == kEveryone);
  CHECK(c.match("city contains \"TOR\"") == Names{"ann"});
  CHECK(c.match("city contains \"o\"") == Names{"ann", "bob"});
  CHECK(c.match("email contains \"@example.com\"") == kEveryone);
  CHECK(c.match("not city contains \"o\"") == Names{"cat", "dan", "eve"});
  CHECK(c.match("email contains \"%\" or email contains \"_\"").empty());  // no LIKE wildcards
}

TEST_CASE("segments sql: bare names, true and false") {
  Contacts c;
  CHECK(c.match("vip") == Names{"ann"});
  CHECK(c.match("vip = true") == Names{"ann"});
  CHECK(c.match("vip != true") == Names{"bob", "cat", "dan", "eve"});
  CHECK(c.match("vip = false") == Names{"bob", "cat", "dan", "eve"});
  CHECK(c.match("not vip") == Names{"bob", "cat", "dan", "eve"});
  CHECK(c.match("orders") == Names{"ann", "bob", "cat", "eve"});
  CHECK(c.match("note").empty());  // present but empty
  CHECK(c.match("subscribed") == Names{"ann", "bob", "dan"});
  CHECK(c.match("pending").empty());
  CHECK(c.match("complained").empty());
}

TEST_CASE("segments sql: tags and engagement functions") {
  Contacts c;
  CHECK(c.match("has_tag(\"vip\")") == Names{"ann"});
  CHECK(c.match("has_tag(\"VIP\")").empty());
  CHECK(c.match("not has_tag(\"vip\") and has_tag(\"newsletter\")") == Names{"bob"});
  CHECK(c.match("opened_within(\"30d\")") == Names{"ann"});  // bob's open was a machine's
  CHECK(c.match("opened_within(\"45d\")") == Names{"ann", "dan"});
  CHECK(c.match("opened_within(\"9d\")").empty());
  CHECK(c.match("clicked_within(\"30d\")").empty());
  CHECK(c.match("clicked_within(\"6w\")") == Names{"bob"});
  CHECK(c.match("replied_within(\"3d\")") == Names{"dan"});
  CHECK(c.match("received_within(\"24h\")") == Names{"ann"});
  CHECK(c.match("purchased_within(\"30d\")") == Names{"ann"});
  CHECK(c.match("purchased_within(\"365d\")") == Names{"ann", "bob"});
  CHECK(c.match("not purchased_within(\"365d\")") == Names{"cat", "dan", "eve"});
}

TEST_CASE("segments sql: analytics fields") {
  Contacts c;
  CHECK(c.match("frequency >= 2") == Names{"ann"});
  CHECK(c.match("frequency = 0") == Names{"cat", "dan", "eve"});
  CHECK(c.match("monetary >= 150") == Names{"ann"});
  CHECK(c.match("monetary > 0") == Names{"ann", "bob"});
  CHECK(c.match("recency_days < 10") == Names{"ann"});
  CHECK(c.match("recency_days = 5") == Names{"ann"});
  CHECK(c.match("recency_days > 150") == Names{"bob"});
  CHECK(c.match("not (recency_days < 10)") == Names{"bob", "cat", "dan", "eve"});
  // Engagement halves every 30 days (opened 1, clicked 2, replied 3). ann: one open 10 days ago,
  // 2^(-1/3) = 0.794; bob: a click 40 days ago, 2 * 2^(-4/3) = 0.794 too, his machine open
  // ignored; dan: an open 40 days ago and a reply 2 days ago, 0.397 + 2.864 = 3.26.
  // (Before migration 4 the score was linear over 90 days; the expectations changed with it.)
  CHECK(c.match("engagement_score > 1.5") == Names{"dan"});
  CHECK(c.match("engagement_score > 3.25 and engagement_score < 3.27") == Names{"dan"});
  CHECK(c.match("engagement_score > 0.79 and engagement_score < 0.8") == Names{"ann", "bob"});
  CHECK(c.match("engagement_score = 0") == Names{"cat", "eve"});
  // rfm_score is now computed from purchases against stored quintile boundaries, not read from
  // an attribute: nothing before the first refresh; ann beats bob on all three with two buyers.
  CHECK(c.match("rfm_score >= 100").empty());
  CHECK(c.match("attr(\"rfm_score\") >= 500") == Names{"ann"});
  c.refresh_rfm();
  CHECK(c.match("rfm_score = 333") == Names{"ann"});
  CHECK(c.match("rfm_score = 111") == Names{"bob"});
  CHECK(c.match("rfm_score >= 100") == Names{"ann", "bob"});
  CHECK(c.match("FREQUENCY >= 2") == Names{"ann"});
}

TEST_CASE("segments sql: attr() reaches any attribute name") {
  Contacts c;
  CHECK(c.match("attr(\"signup source\") = \"web\"") == Names{"bob"});
  CHECK(c.match("attr(\"we\\\"ird\") = 1") == Names{"dan"});
  CHECK(c.match("attr('back\\\\slash') = \"yes\"") == Names{"dan"});
  CHECK(c.match("attr(\"country\") = \"CA\"") == Names{"ann", "cat"});
  // A NUL ends a JSON path: such a name must still run (found by fuzz_segment).
  CHECK(c.match(std::string("attr(\"a\0b\") = 1", 15)).empty());
}

TEST_CASE("segments sql: input text never reaches the SQL") {
  Contacts c;
  const std::string attack = "x'); DROP TABLE contacts;--";
  for (const std::string& expression : {
           "country = \"" + attack + "\"",
           "country = '" + std::string("x\\'); DROP TABLE contacts;--") + "'",
           "attr(\"" + std::string("x\\\"); DROP TABLE contacts;--") + "\") = 1",
           "attr(\"" + attack + "\") = 1",
           "has_tag(\"" + attack + "\")",
           "city contains \"" + attack + "\"",
           "country in [\"" + attack + "\"]",
       }) {
    CAPTURE(expression);
    for (store::Dialect dialect : {store::Dialect::sqlite, store::Dialect::postgresql}) {
      auto compiled = compile_segment(expression, kNow, dialect);
      REQUIRE(compiled);
      CHECK(compiled->where_sql.find("DROP") == std::string::npos);
      CHECK(compiled->where_sql.find("x'") == std::string::npos);
    }
    CHECK(c.match(expression).empty());
    CHECK(c.count_contacts() == 5);
  }
  for (store::Dialect dialect : {store::Dialect::sqlite, store::Dialect::postgresql}) {
    auto compiled = compile_segment("country = \"CA\" and orders >= 2", kNow, dialect);
    REQUIRE(compiled);
    std::string sql = compiled->where_sql;  // without the keyword CASE, which PostgreSQL's text uses
    for (size_t at; (at = sql.find("CASE")) != std::string::npos;) sql.erase(at, 4);
    CHECK(sql.find("CA") == std::string::npos);
    CHECK(compiled->where_sql.find("country") == std::string::npos);
    CHECK(compiled->where_sql.find("orders") == std::string::npos);
  }
}

TEST_CASE("segments: attribute lookups bind the name") {
  auto plain = attribute_value("country");
  CHECK(plain.text == "json_extract(c.attrs, ?)");
  REQUIRE(plain.params.size() == 1);
  CHECK(std::get<std::string>(plain.params[0]) == "$.\"country\"");
  auto odd = attribute_value("a\"b");
  CHECK(odd.text.find("json_each") != std::string::npos);
  REQUIRE(odd.params.size() == 1);
  CHECK(std::get<std::string>(odd.params[0]) == "a\"b");
  // PostgreSQL: jsonb's `->` takes any key as it is.
  for (AttrView view : {AttrView::json, AttrView::number, AttrView::text, AttrView::shown}) {
    auto pg = attribute_value("a\"b", store::Dialect::postgresql, view);
    CHECK(pg.text.find("a\"b") == std::string::npos);
    REQUIRE_FALSE(pg.params.empty());
    CHECK(static_cast<long>(pg.params.size()) == std::count(pg.text.begin(), pg.text.end(), '?'));
    for (const auto& p : pg.params) CHECK(std::get<std::string>(p) == "a\"b");
  }
  CHECK(attribute_value(std::string("a\0b", 3), store::Dialect::postgresql).params.empty());
}

TEST_CASE("segments: meaning errors name the column") {
  struct Case {
    std::string text;
    int col;
    std::string message;
  };
  const Case cases[] = {
      {"foo(1)", 1, "unknown function 'foo'"},
      {"country = \"CA\" and has_tag()", 20, "'has_tag' takes 1 argument but got 0"},
      {"has_tag(\"a\", \"b\")", 1, "'has_tag' takes 1 argument but got 2"},
      {"opened_within(\"3x\")", 15, "invalid duration \"3x\" (write e.g. \"30d\", \"12h\", \"2w\")"},
      {"not clicked_within(\"-7d\")", 20, "invalid duration \"-7d\" (write e.g. \"30d\", \"12h\", \"2w\")"},
      {"opened_within(30)", 15, "argument 1 of 'opened_within' must be a string, e.g. opened_within(\"30d\")"},
      {"has_tag(1)", 9, "argument 1 of 'has_tag' must be a string, e.g. has_tag(\"vip\")"},
      {"frequency > \"2\"", 13, "'frequency' is a number; compare it with a number, not \"2\""},
      {"email = 5", 9, "'email' is text; write the value in quotes"},
      {"created_at > \"yesterday\"", 14,
       "'created_at' is a time; write an ISO-8601 date such as \"2026-03-01\" or Unix seconds"},
      {"subscribed = \"x\"", 1, "'subscribed' is a condition and cannot be compared; use it on its own or with 'not'"},
      {"a = 1 or has_tag(\"x\") in [1]", 10,
       "'has_tag' is a condition and cannot be compared; use it on its own or with 'not'"},
      {"vip > true", 5, "true and false can only be compared with = or !="},
      {"frequency contains \"1\"", 11, "'contains' needs text, but 'frequency' is not text"},
      {"email contains 5", 16, "'contains' takes a string, e.g. email contains \"@example.com\""},
      {"x in [1, true]", 10, "true and false cannot be in a list"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    auto compiled = compile_segment(c.text, kNow);
    REQUIRE_FALSE(compiled);
    CHECK(compiled.error().col == c.col);
    CHECK(compiled.error().message == c.message);
  }
}
