// `campaignd import`: CSV files into a temporary database, bad rows reported by line and
// skipped, re-imports that update without re-subscribing, idempotent events.
#include <doctest/doctest.h>

#include <chrono>
#include <map>
#include <sstream>

#include "daemon/cli/import_command.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/suppressions.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using cli::ImportReport;

namespace {

constexpr util::UnixTime kNow = 1'767'225'600;  // 2026-01-01T00:00:00Z

ImportReport contacts(const std::string& db, const std::string& csv, util::UnixTime now = kNow) {
  std::ostringstream progress;
  auto report = cli::import_contacts(testing::store_target(db), csv, progress, false, now);
  REQUIRE_MESSAGE(report, (report ? "" : report.error()));
  CHECK(progress.str().empty());
  return *report;
}

ImportReport events(const std::string& db, const std::string& csv) {
  std::ostringstream progress;
  auto report = cli::import_events(testing::store_target(db), csv, progress, false, kNow);
  REQUIRE_MESSAGE(report, (report ? "" : report.error()));
  return *report;
}

store::Contact find(const store::Database& db, const std::string& email) {
  auto c = store::ContactRepository(db).find_by_email(email);
  REQUIRE_MESSAGE(c, (c ? "" : c.error()));
  REQUIRE_MESSAGE(c->has_value(), email);
  return **c;
}

}  // namespace

TEST_CASE("import contacts: good rows kept, bad rows reported by line and skipped") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("var/campaignd.db");  // the folder is created
  std::string csv = tmp.write("people.csv",
                              "\xEF\xBB\xBF" "Email,first_name,last_name,country,orders,score,zip,tags,status\r\n"
                              "ann@example.com,Ann,Archer,CA,3,4.5,02134,\"vip, newsletter\",\r\n"
                              "bob@,Bob,Broken,US,1,1,1,,\r\n"
                              "\"Cyd@Example.org\",\"Cyd\",\"Smith, Jr.\",FR,0,-2,x,,unsubscribed\r\n"
                              "dee@example.net,Dee\r\n"
                              ",No,Email,US,1,1,1,,\r\n"
                              "eve@example.com,Eve,\"multi\r\nline\",DE,12,1e3,+1,beta,\r\n"
                              "fay@example.com,Fay,X,CA,1,1,1,,maybe\r\n"
                              "gus@example.com,Gus,Bad\"quote,CA,1,1,1,,\r\n"
                              "hal@example.com,Hal,Last,,,,,,\r\n");
  auto r = contacts(db_path, csv);
  CHECK_FALSE(r.file_rejected);
  CHECK(r.rows == 9);
  CHECK(r.imported == 4);
  CHECK(r.skipped == 5);
  REQUIRE(r.errors.size() == 5);
  CHECK(r.errors[0] == csv + ":3: invalid email 'bob@'");
  CHECK(r.errors[1] == csv + ":5: expected 9 fields, found 2");
  CHECK(r.errors[2] == csv + ":6: missing email");
  CHECK(r.errors[3].find(csv + ":9: unknown status 'maybe'") == 0);  // line 7-8 is Eve's record
  CHECK(r.errors[4].find(csv + ":10: field 3: a quote inside an unquoted field") == 0);

  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 4);
  store::Contact ann = find(db, "ann@example.com");
  CHECK(ann.first_name == "Ann");
  CHECK(ann.status == "subscribed");
  CHECK(ann.tags == std::vector<std::string>{"newsletter", "vip"});
  CHECK(ann.attrs == nlohmann::json{{"country", "CA"}, {"orders", 3}, {"score", 4.5}, {"zip", "02134"}});
  CHECK(ann.created_at == kNow);
  store::Contact cyd = find(db, "cyd@example.org");
  CHECK(cyd.last_name == "Smith, Jr.");
  CHECK(cyd.status == "unsubscribed");
  store::Contact eve = find(db, "eve@example.com");
  CHECK(eve.last_name == "multi\r\nline");
  CHECK(eve.attrs["score"] == 1000.0);
  CHECK(eve.attrs["zip"] == "+1");
  CHECK(find(db, "hal@example.com").attrs == nlohmann::json::object());  // empty cells: no attribute

  // numbers are JSON numbers inside the database, so segments compare them as numbers
  auto type_of = [&](const std::string& key) {
    std::string expr = std::string(db.sql("json_type(attrs, '$.", "jsonb_typeof(attrs->'")) + key + "')";
    return testing::query_text(db, "SELECT " + expr + " FROM contacts WHERE email = 'ann@example.com'");
  };
  CHECK(type_of("orders") == db.sql("integer", "number"));
  CHECK(type_of("score") == db.sql("real", "number"));
  CHECK(type_of("zip") == db.sql("text", "string"));
  CHECK(testing::query_int(db, std::string(db.sql(
                                    "SELECT count(*) FROM contacts WHERE json_extract(attrs, '$.orders') >= 3",
                                    "SELECT count(*) FROM contacts WHERE (attrs->>'orders')::numeric >= 3"))) == 2);
}

TEST_CASE("import contacts: re-import updates attributes and never re-subscribes") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  auto first = contacts(db_path, tmp.write("a.csv",
                                           "email,first_name,country,orders,tags,status\n"
                                           "ann@example.com,Ann,CA,1,a,\n"
                                           "ben@example.com,Ben,US,2,,unsubscribed\n"
                                           "cat@example.com,Cat,FR,3,,\n"));
  CHECK(first.imported == 3);
  {
    auto db = testing::open_migrated(db_path);
    REQUIRE(store::ContactRepository(db).set_status(find(db, "cat@example.com").id, "bounced", kNow));
  }
  auto second = contacts(db_path,
                         tmp.write("b.csv",
                                   "email,first_name,orders,city,tags,status\n"
                                   "ANN@example.com,,7,Montréal,b,\n"
                                   "ben@example.com,Benjamin,2,,,subscribed\n"
                                   "cat@example.com,Cat,4,,,\n"
                                   "dan@example.com,Dan,1,,,\n"),
                         kNow + 60);
  CHECK(second.imported == 4);
  CHECK(second.skipped == 0);

  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 4);
  store::Contact ann = find(db, "ann@example.com");
  CHECK(ann.first_name == "Ann");  // empty cell keeps the name
  CHECK(ann.attrs == nlohmann::json{{"country", "CA"}, {"orders", 7}, {"city", "Montréal"}});
  CHECK(ann.tags == std::vector<std::string>{"a", "b"});
  CHECK(ann.created_at == kNow);
  CHECK(ann.updated_at == kNow + 60);
  store::Contact ben = find(db, "ben@example.com");
  CHECK(ben.first_name == "Benjamin");
  CHECK(ben.status == "unsubscribed");
  CHECK(find(db, "cat@example.com").status == "bounced");
  CHECK(find(db, "dan@example.com").status == "subscribed");
}

TEST_CASE("import contacts: a suppressed address is imported as unsubscribed") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  {
    auto db = testing::open_migrated(db_path);
    REQUIRE(store::SuppressionRepository(db).add("Sup@Example.com", "complained", kNow - 100));
  }
  auto r = contacts(db_path, tmp.write("s.csv", "email,first_name\nsup@example.com,Sue\nok@example.com,Oz\n"));
  CHECK(r.imported == 2);
  auto db = testing::open_migrated(db_path);
  CHECK(find(db, "sup@example.com").status == "unsubscribed");
  CHECK(find(db, "ok@example.com").status == "subscribed");
}

TEST_CASE("import contacts: unusable files are rejected with a place") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  auto no_email = contacts(db_path, tmp.write("n.csv", "mail,name\nx@example.com,X\n"));
  CHECK(no_email.file_rejected);
  REQUIRE(no_email.errors.size() == 1);
  CHECK(no_email.errors[0] == tmp.file("n.csv") + ":1: no 'email' column (columns: mail, name)");

  auto dup = contacts(db_path, tmp.write("d.csv", "email,city,City\nx@example.com,a,b\n"));
  CHECK(dup.file_rejected);
  CHECK(dup.errors.at(0) == tmp.file("d.csv") + ":1: duplicate column 'City'");

  auto unnamed = contacts(db_path, tmp.write("u.csv", "\n\nemail,,x\n"));
  CHECK(unnamed.errors.at(0) == tmp.file("u.csv") + ":3: column 2 has no name");

  auto empty = contacts(db_path, tmp.write("e.csv", ""));
  CHECK(empty.file_rejected);
  CHECK(empty.errors.at(0).find("empty file") != std::string::npos);

  auto missing = contacts(db_path, tmp.file("absent.csv"));
  CHECK(missing.file_rejected);
  CHECK(missing.errors.at(0) == tmp.file("absent.csv") + ": cannot open: no such file");

  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 0);
}

TEST_CASE("import contacts: more rows than one transaction, errors kept up to the cap") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  std::string text = "email,orders\n";
  const long total = cli::kRowsPerTransaction * 2 + 500;
  for (long i = 0; i < total; ++i)
    text += (i % 10 == 9 ? "broken" : "p" + std::to_string(i) + "@example.com") + "," + std::to_string(i) + "\n";
  auto r = contacts(db_path, tmp.write("big.csv", text));
  CHECK(r.rows == total);
  CHECK(r.skipped == total / 10);
  CHECK(r.imported == total - total / 10);
  CHECK(r.errors.size() == cli::kMaxKeptErrors);
  CHECK(r.errors[0] == tmp.file("big.csv") + ":11: invalid email 'broken'");
  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == r.imported);

  std::ostringstream out, err;
  cli::print_import_report(r, "contacts", out, err);
  CHECK(out.str().find("imported 18,450 contacts, skipped 2,050 rows (see errors above) in ") == 0);
  CHECK(err.str().find("... and 1,950 more\n") != std::string::npos);
  long lines = 0;
  for (char c : err.str()) lines += c == '\n';
  CHECK(lines == static_cast<long>(cli::kMaxPrintedErrors) + 1);
}

TEST_CASE("import contacts: the progress bar is drawn only when asked") {
  testing::TempFolder tmp;
  std::string csv = tmp.write("p.csv", "email\na@example.com\nb@example.com\n");
  std::ostringstream progress;
  auto r = cli::import_contacts(testing::store_target(tmp.file("c.db")), csv, progress, true, kNow);
  REQUIRE(r);
  CHECK(progress.str().find("\r[####################] 100% 2 rows ") == 0);
  CHECK(progress.str().back() == '\n');
}

TEST_CASE("import events: idempotent, rows checked, contacts must exist") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  contacts(db_path, tmp.write("c.csv", "email\nann@example.com\nben@example.com\n"));
  std::string csv = tmp.write("ev.csv",
                              "email,type,amount,at,sku\n"
                              "ann@example.com,purchase,19.90,2026-03-01T09:00:00Z,A-1\n"
                              "Ann@Example.com,purchase,19.9,2026-03-01T10:00:00+01:00,A-1\n"  // the same event
                              "ben@example.com,Purchase,5,2026-03-02,\n"
                              "ben@example.com,refund,-5,,\n"
                              "zed@example.com,purchase,1,,\n"
                              "ann@example.com,purchase,ten,,\n"
                              "ann@example.com,purchase,1,yesterday,\n"
                              "ann@example.com,buy-now,1,,\n"
                              "ann@example.com,,1,,\n");
  auto r = events(db_path, csv);
  CHECK(r.rows == 9);
  CHECK(r.imported == 3);
  CHECK(r.duplicates == 1);
  CHECK(r.skipped == 5);
  REQUIRE(r.errors.size() == 5);
  CHECK(r.errors[0] == csv + ":6: no contact 'zed@example.com' (import contacts first)");
  CHECK(r.errors[1] == csv + ":7: amount 'ten' is not a number");
  CHECK(r.errors[2].find(csv + ":8: time 'yesterday' is not ISO-8601") == 0);
  CHECK(r.errors[3].find(csv + ":9: invalid type 'buy-now'") == 0);
  CHECK(r.errors[4] == csv + ":10: missing type");

  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM events") == 3);
  CHECK(testing::query_int(db, "SELECT at FROM events WHERE kind = 'refund'") == kNow);
  // Parsed: PostgreSQL's jsonb gives its own spacing back.
  CHECK(nlohmann::json::parse(testing::query_text(db, "SELECT data FROM events WHERE amount = 19.9")) ==
        nlohmann::json{{"sku", "A-1"}, {"source", "import"}});
  CHECK(testing::query_int(db, "SELECT count(*) FROM events WHERE provider_event_id LIKE 'import:%'") == 3);

  auto again = events(db_path, csv);
  CHECK(again.imported == 0);
  CHECK(again.duplicates == 4);
  CHECK(testing::query_int(db, "SELECT count(*) FROM events") == 3);
  CHECK(testing::query_text(db, "SELECT sum(amount) FROM events WHERE kind = 'purchase'") == "24.9");

  auto no_type = events(db_path, tmp.write("nt.csv", "email,amount\nann@example.com,1\n"));
  CHECK(no_type.file_rejected);
  CHECK(no_type.errors.at(0) == tmp.file("nt.csv") + ":1: no 'type' column");
}

TEST_CASE("import: which cells are numbers") {
  for (const char* yes : {"0", "-0", "42", "-17", "3.25", "0.5", "1e3", "2E-4", "-1.5e+10"}) {
    CAPTURE(yes);
    CHECK(cli::is_json_number(yes));
  }
  for (const char* no : {"", "-", "007", "+1", "1.", ".5", "1e", "1e+", "12a", " 1", "0x10", "NaN", "inf", "1,5"}) {
    CAPTURE(no);
    CHECK_FALSE(cli::is_json_number(no));
  }
}

namespace {

std::string nlohmann_text(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

TEST_CASE("import: JSON strings written as nlohmann::json writes them") {
  std::vector<std::string> texts = {"", "plain", "say \"hi\"", "back\\slash", "a/b", "tab\tnew\nline\rret",
                                    "\b\f", "del\x7f", "Montréal", "東京", "emoji \xF0\x9F\x98\x80",
                                    "\xC3\xA9\"\\\x01", "\xE2\x80\xA8 \xE2\x80\xA9",  // U+2028/2029 pass
                                    "bad \xFF byte", "cut \xE2\x82", "overlong \xC0\xAF", "surrogate \xED\xA0\x80"};
  for (int c = 0; c < 0x20; ++c) texts.push_back(std::string("c") + static_cast<char>(c) + "c");
  texts.push_back(std::string("nul\0in", 6));
  for (const auto& text : texts) {
    CAPTURE(text);
    std::string ours = "prefix";
    cli::append_json_string(ours, text);
    CHECK(ours == "prefix" + nlohmann_text(nlohmann::json(text)));
  }
}

TEST_CASE("import: attribute cells typed and written as nlohmann::json writes them") {
  for (const char* cell : {"0", "-0", "42", "-17", "9223372036854775807", "-9223372036854775808",
                           "9223372036854775808", "-9223372036854775809", "123456789012345678901234567890",
                           "3.25", "0.5", "0.1", "1.0", "-0.0", "1e3", "2E-4", "-1.5e+10", "1e21", "1e-7", "1e308",
                           "1e309", "-1e400", "4.9e-324", "1e-400", "0.000001", "123456789012345.6",
                           "1234567890123456789.5", "007", "+1", "1.", ".5", "1e", "NaN", "inf", "yes", "true",
                           "null", "1,5", "say \"1\"", "\t1"}) {
    CAPTURE(cell);
    std::string ours;
    cli::append_attribute_json(ours, cell);
    CHECK(ours == nlohmann_text(cli::attribute_value(cell)));
  }
}

TEST_CASE("import contacts: attrs as nlohmann::json wrote them, keys sorted, tricky names and cells") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  std::string csv = tmp.write("a.csv",
                              "email,zeta,Alpha,\"qu\"\"ote\",ünï,\"back\\slash\",b,a_num,\"tab\tname\"\n"
                              "ann@example.com,last,First,\"say \"\"hi\"\"\",Köln,\\,  ,12,1.50\n"
                              "ben@example.com,,,,,,x,-0,1e400\n"
                              "cat@example.com,\"multi\nline\",\x01,\x7f,東京,\"a,b\",0.1,99999999999999999999,-1e-7\n");
  auto r = contacts(db_path, csv);
  REQUIRE(r.imported == 3);
  std::vector<std::string> names = {"zeta", "Alpha", "qu\"ote", "ünï", "back\\slash", "b", "a_num", "tab\tname"};
  std::vector<std::vector<std::string>> cells = {
      {"last", "First", "say \"hi\"", "Köln", "\\", "", "12", "1.50"},
      {"", "", "", "", "", "x", "-0", "1e400"},
      {"multi\nline", "\x01", "\x7f", "東京", "a,b", "0.1", "99999999999999999999", "-1e-7"}};
  const char* emails[] = {"ann@example.com", "ben@example.com", "cat@example.com"};
  auto db = testing::open_migrated(db_path);
  for (std::size_t row = 0; row < 3; ++row) {
    nlohmann::json expected = nlohmann::json::object();
    for (std::size_t i = 0; i < names.size(); ++i)
      if (!cells[row][i].empty()) expected[names[i]] = cli::attribute_value(cells[row][i]);
    CAPTURE(emails[row]);
    std::string stored =
        testing::query_text(db, std::string("SELECT attrs FROM contacts WHERE email = '") + emails[row] + "'");
    // PostgreSQL keeps attrs as jsonb and prints it its own way; there the values must match, on SQLite the text.
    if (testing::testing_on_postgresql())
      CHECK(nlohmann::json::parse(stored) == expected);
    else
      CHECK(stored == store::attrs_text(expected));
  }
}

TEST_CASE("import contacts: a sqlite:// target makes the file's folder, not a folder named sqlite:") {
  testing::TempFolder tmp;
  std::string path = tmp.file("var/lib/c.db");
  std::ostringstream progress;
  auto r = cli::import_contacts("sqlite://" + path, tmp.write("c.csv", "email\nann@example.com\n"), progress, false, kNow);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  CHECK(r->imported == 1);
  CHECK(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists("sqlite:"));
}

// ---- the bulk load into an empty table (SQLite) -------------------------------------------------

namespace {

// A file whose addresses repeat, in every way a repeat may differ: names, attributes, tags and
// statuses, and the address's case.
const char* kRepeats =
    "email,first_name,last_name,country,orders,tags,status\n"
    "ann@example.com,Ann,Archer,CA,1,\"a, b\",\n"
    "ben@example.com,Ben,Brown,US,2,,pending\n"
    "ANN@Example.com,,Arrow,,5,\"b,c\",\n"
    "cat@example.com,Cat,,FR,,x,unsubscribed\n"
    "ben@example.com,,,,,,bounced\n"
    "cat@example.com,Catherine,,,3,y,subscribed\n"
    "dan@example.com,Dan,,,,,\n"
    "ann@example.com,Anne,,DE,,,unsubscribed\n"
    "ann@example.com,,,,,d,subscribed\n";

// Every contact's stored fields, by address, with its tags; ids left out.
std::map<std::string, std::string> contact_rows(const store::Database& db) {
  std::map<std::string, std::string> out;
  auto stmt = db.prepare(
      "SELECT email, first_name, last_name, status, attrs, created_at, updated_at, soft_bounces FROM contacts");
  REQUIRE(stmt);
  REQUIRE(stmt->each([&](const store::Statement& row) {
    std::string text;
    for (int i = 1; i < 8; ++i)
      text += (i == 4 ? nlohmann::json::parse(row.column_text(i)).dump() : row.column_text(i)) + "|";
    out[row.column_text(0)] = text;
  }));
  for (auto& [email, text] : out)
    for (const auto& tag : find(db, email).tags) text += tag + ",";
  return out;
}

bool has_index(const store::Database& db, const std::string& name) {
  return testing::query_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = '" + name +
                                    "'") == 1;
}

// Makes the insert of `email` into contacts fail, as a full disk or a broken file would.
void refuse_contact(const store::Database& db, const std::string& email) {
  REQUIRE(db.exec("CREATE TRIGGER refuse BEFORE INSERT ON contacts WHEN NEW.email = '" + email +
                  "' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"));
}

}  // namespace

TEST_CASE("import contacts: into an empty table, repeated addresses merge as into a full one") {
  testing::TempFolder tmp;
  std::string csv = tmp.write("r.csv", kRepeats);
  // Empty: the bulk load on SQLite. With a contact already there: row by row.
  std::string empty_path = tmp.file("empty.db"), full_path = tmp.file("full.db");
  {
    auto full = testing::open_migrated(full_path);
    store::Contact zed;
    zed.email = "zed@example.com";
    zed.created_at = zed.updated_at = kNow;
    REQUIRE(store::ContactRepository(full).upsert(zed, store::UpsertMode::merge));
  }
  auto bulk = contacts(empty_path, csv);
  auto rows = contacts(full_path, csv);
  CHECK(bulk.rows == 9);
  CHECK(bulk.imported == 9);
  CHECK(bulk.skipped == 0);
  CHECK(rows.imported == 9);

  auto empty = testing::open_migrated(empty_path);
  auto full = testing::open_migrated(full_path);
  auto bulk_rows = contact_rows(empty);
  auto old_rows = contact_rows(full);
  CHECK(old_rows.erase("zed@example.com") == 1);
  CHECK(bulk_rows == old_rows);

  CHECK(testing::query_int(empty, "SELECT count(*) FROM contacts") == 4);
  store::Contact ann = find(empty, "ann@example.com");
  CHECK(ann.first_name == "Anne");
  CHECK(ann.last_name == "Arrow");
  CHECK(ann.attrs == nlohmann::json{{"country", "DE"}, {"orders", 5}});
  CHECK(ann.tags == std::vector<std::string>{"a", "b", "c", "d"});
  CHECK(ann.status == "unsubscribed");  // never back to subscribed
  CHECK(find(empty, "ben@example.com").status == "bounced");
  store::Contact cat = find(empty, "cat@example.com");
  CHECK(cat.status == "unsubscribed");
  CHECK(cat.first_name == "Catherine");
  CHECK(cat.tags == std::vector<std::string>{"x", "y"});
  CHECK(cat.attrs == nlohmann::json{{"country", "FR"}, {"orders", 3}});

  if (empty.is_postgresql()) return;  // where ON CONFLICT spends an id on every repeat
  // Ids in order of first appearance, as row by row (where zed took 1).
  int n = 0;
  for (const char* email : {"ann@example.com", "ben@example.com", "cat@example.com", "dan@example.com"}) {
    CAPTURE(email);
    ++n;
    CHECK(find(empty, email).id == n);
    CHECK(find(full, email).id == n + 1);
  }
  CHECK(has_index(empty, "contacts_by_email"));
  CHECK(has_index(empty, "contact_tags_by_tag"));
  CHECK(testing::query_text(empty, "PRAGMA integrity_check") == "ok");
  CHECK_FALSE(empty.exec("INSERT INTO contacts (email, created_at, updated_at) VALUES ('dan@example.com', 0, 0)"));
  // The next contact written the usual way follows on.
  store::Contact eve;
  eve.email = "eve@example.com";
  auto id = store::ContactRepository(empty).upsert_returning_id(eve, store::UpsertMode::merge);
  REQUIRE(id);
  CHECK(*id == 5);
}

TEST_CASE("import contacts: bad rows in the middle of a bulk load are skipped with their line") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  std::string csv = tmp.write("m.csv",
                              "email,first_name,tags\n"
                              "ann@example.com,Ann,a\n"
                              "bob@example.com,Bo\"b,b\n"  // a quote inside an unquoted field
                              "cyd@example.com,Cyd\n"      // a field short
                              "dee@example.com,Dee,\"d\n"  // a quote never closed: the input ends here
                              "eve@example.com,Eve,e\n");
  auto r = contacts(db_path, csv);
  CHECK(r.imported == 1);
  CHECK(r.skipped == 3);
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].find(csv + ":3: field 2: a quote inside an unquoted field") == 0);
  CHECK(r.errors[1] == csv + ":4: expected 3 fields, found 2");
  CHECK(r.errors[2].find(csv + ":5: field 3: quoted field opened here is never closed") == 0);
  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 1);
  CHECK(find(db, "ann@example.com").tags == std::vector<std::string>{"a"});
  if (db.is_postgresql()) return;
  CHECK(has_index(db, "contacts_by_email"));
  CHECK(has_index(db, "contact_tags_by_tag"));
}

TEST_CASE("import contacts: a store failure in a bulk load imports nothing and keeps the indexes") {
  if (testing::testing_on_postgresql()) return;  // the bulk load is SQLite's
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  refuse_contact(testing::open_migrated(db_path), "boom@example.com");
  std::string csv = tmp.write("f.csv",
                              "email,tags\n"
                              "ann@example.com,a\n"
                              "ben@example.com,b\n"
                              "boom@example.com,c\n"
                              "cat@example.com,d\n");
  std::ostringstream progress;
  auto r = cli::import_contacts(db_path, csv, progress, false, kNow);
  REQUIRE_FALSE(r);
  CHECK(r.error().find(csv + ":4: import stopped: ") == 0);
  CHECK(r.error().find("refused by the test") != std::string::npos);
  CHECK(r.error().find("nothing was imported") != std::string::npos);

  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 0);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contact_tags") == 0);
  CHECK(has_index(db, "contacts_by_email"));
  CHECK(has_index(db, "contact_tags_by_tag"));
  CHECK(testing::query_text(db, "PRAGMA integrity_check") == "ok");

  // Without the refusal the same file goes in whole.
  REQUIRE(db.exec("DROP TRIGGER refuse"));
  CHECK(contacts(db_path, csv).imported == 4);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 4);
}

TEST_CASE("import contacts: a bulk load alone with the database skips the WAL, and leaves it in WAL") {
  if (testing::testing_on_postgresql()) return;  // journals are SQLite's
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  auto journal_of = [](const store::Database& db) { return testing::query_text(db, "PRAGMA journal_mode"); };
  {
    auto db = testing::open_migrated(db_path);
    {
      auto journal = store::BulkLoadJournal::begin(db);
      CHECK(journal.active());
      CHECK(journal_of(db) == "delete");
      CHECK(testing::query_int(db, "PRAGMA synchronous") == 2);  // FULL
      CHECK(testing::query_int(db, "PRAGMA busy_timeout") > 0);  // given back
    }
    CHECK(journal_of(db) == "wal");
    CHECK(testing::query_int(db, "PRAGMA synchronous") == 1);  // NORMAL

    // Another connection on the database: it stays in WAL, and at once.
    auto other = testing::open_migrated(db_path);
    auto started = std::chrono::steady_clock::now();
    auto journal = store::BulkLoadJournal::begin(db);
    CHECK_FALSE(journal.active());
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(journal_of(db) == "wal");
    CHECK(journal_of(other) == "wal");
  }
  // The import alone: the rows are there and the database is in WAL again.
  std::string csv = tmp.write("a.csv", "email,tags\nann@example.com,a\nben@example.com,b\n");
  CHECK(contacts(db_path, csv).imported == 2);
  auto db = testing::open_migrated(db_path);
  CHECK(journal_of(db) == "wal");
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 2);
  CHECK(testing::query_text(db, "PRAGMA integrity_check") == "ok");
  // A table with contacts gets no bulk load, so no journal switch either.
  auto journal = store::BulkLoadJournal::begin(db);
  CHECK_FALSE(journal.active());
  CHECK(journal_of(db) == "wal");
}

TEST_CASE("import contacts: into a table that holds contacts, a failure keeps the batches before it") {
  if (testing::testing_on_postgresql()) return;  // the trigger below is SQLite's
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  contacts(db_path, tmp.write("first.csv", "email\nzed@example.com\n"));
  refuse_contact(testing::open_migrated(db_path), "boom@example.com");
  std::string text = "email,tags\n";
  for (long i = 0; i < cli::kRowsPerTransaction + 2; ++i) text += "p" + std::to_string(i) + "@example.com,t\n";
  text += "boom@example.com,t\n";
  std::string csv = tmp.write("f.csv", text);
  std::ostringstream progress;
  auto r = cli::import_contacts(db_path, csv, progress, false, kNow);
  REQUIRE_FALSE(r);
  CHECK(r.error().find(csv + ":" + std::to_string(cli::kRowsPerTransaction + 4) + ": import stopped: ") == 0);
  CHECK(r.error().find("(the last 2 rows were rolled back; rows before them are saved)") != std::string::npos);
  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == cli::kRowsPerTransaction + 1);
  CHECK(has_index(db, "contacts_by_email"));
}

TEST_CASE("import contacts: two addresses with one hash in the bulk load stay two contacts") {
  // These two addresses fold to the same 32-bit std::hash (libstdc++), as ContactBulkLoader
  // keeps them: only reading the address back tells them apart.
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  auto r = contacts(db_path, tmp.write("h.csv",
                                       "email,city,tags\n"
                                       "c3692@example.com,Oslo,a\n"
                                       "c130011@example.com,Lima,b\n"
                                       "c3692@example.com,,c\n"
                                       "c130011@example.com,Kyiv,\n"));
  CHECK(r.imported == 4);
  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 2);
  store::Contact first = find(db, "c3692@example.com");
  store::Contact second = find(db, "c130011@example.com");
  CHECK(first.id == 1);
  CHECK(second.id == 2);
  CHECK(first.attrs == nlohmann::json{{"city", "Oslo"}});
  CHECK(first.tags == std::vector<std::string>{"a", "c"});
  CHECK(second.attrs == nlohmann::json{{"city", "Kyiv"}});
  CHECK(second.tags == std::vector<std::string>{"b"});
}

// ---- rows read on one thread, written on another ------------------------------------------------

namespace {

// `rows` contacts p0@example.com, p1@... on lines 2, 3, ...; `line_text` replaces given lines.
std::string numbered_contacts(long rows, const std::map<long, std::string>& line_text = {}) {
  std::string text = "email,first_name,orders,tags\n";
  for (long i = 0; i < rows; ++i) {
    auto it = line_text.find(i + 2);
    text += it != line_text.end() ? it->second
                                  : "p" + std::to_string(i) + "@example.com,P" + std::to_string(i) + "," +
                                        std::to_string(i) + ",t" + std::to_string(i % 3);
    text += "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("import contacts: bad rows far into a file of many batches are reported at their line") {
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  std::string csv = tmp.write("many.csv", numbered_contacts(7'500, {{2'345, "x@example.com,Bo\"b,1,t"},
                                                                    {4'001, "not-an-address,N,2,t"},
                                                                    {6'999, "short@example.com,S"}}));
  auto r = contacts(db_path, csv);
  CHECK(r.rows == 7'500);
  CHECK(r.imported == 7'497);
  CHECK(r.skipped == 3);
  REQUIRE(r.errors.size() == 3);
  CHECK(r.errors[0].find(csv + ":2345: field 2: a quote inside an unquoted field") == 0);
  CHECK(r.errors[1] == csv + ":4001: invalid email 'not-an-address'");
  CHECK(r.errors[2] == csv + ":6999: expected 4 fields, found 2");
  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 7'497);
  // Ids in file order, the skipped rows taking none.
  CHECK(find(db, "p0@example.com").id == 1);
  CHECK(find(db, "p2342@example.com").id == 2'343);
  CHECK(find(db, "p2344@example.com").id == 2'344);
  CHECK(find(db, "p7499@example.com").id == 7'497);
  CHECK(find(db, "p7499@example.com").attrs.dump() == R"({"orders":7499})");
  CHECK(find(db, "p7499@example.com").tags == std::vector<std::string>{"t2"});
}

TEST_CASE("import contacts: a store failure far into a bulk load stops the reader and keeps nothing") {
  if (testing::testing_on_postgresql()) return;  // the trigger below is SQLite's
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  refuse_contact(testing::open_migrated(db_path), "p3498@example.com");
  // Far more rows than the reader may hold ahead: it waits on a full queue when the writer fails.
  std::string csv = tmp.write("f.csv", numbered_contacts(60'000));
  std::ostringstream progress;
  auto r = cli::import_contacts(db_path, csv, progress, false, kNow);
  REQUIRE_FALSE(r);
  CHECK(r.error().find(csv + ":3500: import stopped: ") == 0);
  CHECK(r.error().find("refused by the test") != std::string::npos);
  CHECK(r.error().find("nothing was imported") != std::string::npos);
  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 0);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contact_tags") == 0);
  CHECK(has_index(db, "contacts_by_email"));
}

TEST_CASE("import contacts: a store failure early in a row-by-row import stops the reader") {
  if (testing::testing_on_postgresql()) return;  // the trigger below is SQLite's
  testing::TempFolder tmp;
  std::string db_path = tmp.file("c.db");
  contacts(db_path, tmp.write("first.csv", "email\nzed@example.com\n"));
  refuse_contact(testing::open_migrated(db_path), "p2@example.com");
  std::string csv = tmp.write("f.csv", numbered_contacts(60'000));
  std::ostringstream progress;
  auto r = cli::import_contacts(db_path, csv, progress, false, kNow);
  REQUIRE_FALSE(r);
  CHECK(r.error().find(csv + ":4: import stopped: ") == 0);
  CHECK(r.error().find("(the last 2 rows were rolled back; rows before them are saved)") != std::string::npos);
  auto db = testing::open_migrated(db_path);
  CHECK(testing::query_int(db, "SELECT count(*) FROM contacts") == 1);
}

TEST_CASE("import contacts: a file of many batches goes in whole, as the same rows row by row") {
  testing::TempFolder tmp;
  std::string csv = tmp.write("r.csv", numbered_contacts(5'003) + "P17@Example.com,Again,99,t9\n");
  std::string empty_path = tmp.file("empty.db"), full_path = tmp.file("full.db");
  auto bulk = contacts(empty_path, csv);
  contacts(full_path, tmp.write("first.csv", "email\nzed@example.com\n"));
  auto rows = contacts(full_path, csv);
  CHECK(bulk.imported == 5'004);
  CHECK(rows.imported == 5'004);
  auto empty_db = testing::open_migrated(empty_path), full_db = testing::open_migrated(full_path);
  auto from_bulk = contact_rows(empty_db), from_rows = contact_rows(full_db);
  from_rows.erase("zed@example.com");
  CHECK(from_bulk.size() == 5'003);
  CHECK(from_bulk == from_rows);
  CHECK(find(empty_db, "p17@example.com").attrs.dump() == R"({"orders":99})");
  CHECK(find(empty_db, "p17@example.com").tags == std::vector<std::string>{"t2", "t9"});
}
