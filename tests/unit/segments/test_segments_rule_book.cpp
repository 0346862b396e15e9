// Rule files: loading, errors placed at file:line:col inside the expression, and resolving
// what a campaign's `segment:` says.
#include <doctest/doctest.h>

#include <stdlib.h>  // mkdtemp

#include <filesystem>
#include <fstream>
#include <string>

#include "daemon/segments/rule_book.hpp"
#include "daemon/segments/scalar_place.hpp"

using namespace campaignd;
using namespace campaignd::segments;
namespace fs = std::filesystem;

namespace {

constexpr util::UnixTime kNow = 1'800'000'000;

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "segments-test-XXXXXX").string();
    REQUIRE(mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string write(const std::string& name, const std::string& text) const {
    fs::path p = path_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string path() const { return path_.string(); }

 private:
  fs::path path_;
};

// The one error whose file ends with `file_name`.
const PlacedError* error_in(const std::vector<PlacedError>& errors, const std::string& file_name) {
  for (const PlacedError& e : errors)
    if (fs::path(e.place.file).filename() == file_name) return &e;
  return nullptr;
}

}  // namespace

TEST_CASE("rule book: good files load, automation files and other files are skipped") {
  TempDir dir;
  dir.write("engaged.yaml", "name: engaged-buyers\ndescription: Bought twice\nsegment: 'orders >= 2 and opened_within(\"90d\")'\n");
  dir.write("canada.yml", "segment: country = \"CA\"\n");
  dir.write("welcome.yaml", "name: welcome\ntrigger: subscribed\nsteps: []\n");
  dir.write("README.md", "not a rule\n");
  std::vector<PlacedError> errors;
  auto book = RuleBook::load(dir.path(), errors);
  REQUIRE(book);
  CHECK(errors.empty());
  CHECK(book->rules().size() == 2);
  const Rule* engaged = book->find("engaged-buyers");
  REQUIRE(engaged);
  CHECK(engaged->description == "Bought twice");
  CHECK(engaged->expression == "orders >= 2 and opened_within(\"90d\")");
  CHECK(engaged->place.line == 3);
  CHECK(engaged->place.col == 11);
  CHECK(book->find("canada"));
  CHECK_FALSE(book->find("welcome"));
  CHECK_FALSE(book->find("engaged"));
}

TEST_CASE("rule book: expression errors point into the file") {
  TempDir dir;
  dir.write("plain.yaml", "description: x\nsegment: country = \"CA\" and has_tag(\n");
  dir.write("single.yaml", "segment: 'country = ''CA'' and foo(1)'\n");
  dir.write("double.yaml", "segment: \"country = \\\"CA\\\" and foo(1)\"\n");
  dir.write("block.yaml", "# comment\nsegment: |\n  country = \"CA\"\n  and opened_within(\"3x\")\n");
  dir.write("folded.yaml", "segment: >-\n    country = \"CA\"\n    and vip > true\n");
  dir.write("good.yaml", "segment: subscribed\n");
  std::vector<PlacedError> errors;
  auto book = RuleBook::load(dir.path(), errors);
  REQUIRE(book);
  CHECK(errors.size() == 5);
  CHECK(book->rules().size() == 1);

  const PlacedError* plain = error_in(errors, "plain.yaml");
  REQUIRE(plain);
  CHECK(plain->place.line == 2);
  CHECK(plain->place.col == 37);
  CHECK(plain->message == "expected an argument but found end of expression");
  CHECK(plain->to_string() == plain->place.file + ":2:37: expected an argument but found end of expression");

  const PlacedError* single = error_in(errors, "single.yaml");
  REQUIRE(single);
  CHECK(single->place.line == 1);
  CHECK(single->place.col == 32);
  CHECK(single->message == "unknown function 'foo'");

  const PlacedError* dq = error_in(errors, "double.yaml");
  REQUIRE(dq);
  CHECK(dq->place.col == 32);

  const PlacedError* block = error_in(errors, "block.yaml");
  REQUIRE(block);
  CHECK(block->place.line == 4);
  CHECK(block->place.col == 21);
  CHECK(block->message.find("invalid duration \"3x\"") == 0);

  const PlacedError* folded = error_in(errors, "folded.yaml");
  REQUIRE(folded);
  CHECK(folded->place.line == 3);
  CHECK(folded->place.col == 13);
}

TEST_CASE("rule book: malformed files are reported and skipped") {
  TempDir dir;
  dir.write("a-yaml.yaml", "segment: [unclosed\n");
  dir.write("b-typo.yaml", "segmnt: subscribed\n");
  dir.write("c-list.yaml", "- segment: subscribed\n");
  dir.write("d-empty.yaml", "");
  dir.write("e-all.yaml", "name: all\nsegment: subscribed\n");
  dir.write("f-map.yaml", "segment:\n  a: 1\n");
  dir.write("g-dup.yaml", "name: twin\nsegment: subscribed\n");
  dir.write("h-dup.yaml", "name: twin\nsegment: pending\n");
  std::vector<PlacedError> errors;
  auto book = RuleBook::load(dir.path(), errors);
  REQUIRE(book);
  CHECK(book->rules().size() == 1);
  CHECK(book->find("twin"));
  CHECK(book->find("twin")->expression == "subscribed");

  const PlacedError* yaml = error_in(errors, "a-yaml.yaml");
  REQUIRE(yaml);
  CHECK(yaml->place.line == 2);

  const PlacedError* typo = error_in(errors, "b-typo.yaml");
  REQUIRE(typo);
  CHECK(typo->place.line == 1);
  CHECK(typo->place.col == 1);
  CHECK(typo->message == "unknown key 'segmnt' (a segment rule has name, description and segment)");

  CHECK(error_in(errors, "c-list.yaml"));
  const PlacedError* empty = error_in(errors, "d-empty.yaml");
  REQUIRE(empty);
  CHECK(empty->place.line == 1);

  const PlacedError* all = error_in(errors, "e-all.yaml");
  REQUIRE(all);
  CHECK(all->place.line == 1);
  CHECK(all->place.col == 7);

  const PlacedError* map = error_in(errors, "f-map.yaml");
  REQUIRE(map);
  CHECK(map->message == "'segment' must be an expression in text");
  CHECK(map->place.line == 2);

  const PlacedError* dup = error_in(errors, "h-dup.yaml");
  REQUIRE(dup);
  CHECK(dup->place.line == 1);
  CHECK(dup->message.find("rule 'twin' is already defined in ") == 0);
}

TEST_CASE("rule book: a missing folder is empty, a file is not a folder") {
  TempDir dir;
  std::vector<PlacedError> errors;
  auto missing = RuleBook::load(dir.path() + "/nope", errors);
  REQUIRE(missing);
  CHECK(missing->rules().empty());
  std::string file = dir.write("file.yaml", "segment: subscribed\n");
  CHECK_FALSE(RuleBook::load(file, errors));
  CHECK(errors.empty());
}

TEST_CASE("rule book: resolve takes all, a rule name or an inline expression") {
  TempDir dir;
  dir.write("canada.yaml", "segment: country = \"CA\"\n");
  dir.write("broken.yaml", "segment: country = \n");
  std::vector<PlacedError> errors;
  auto book = RuleBook::load(dir.path(), errors);
  REQUIRE(book);
  REQUIRE(errors.size() == 1);
  const SourcePlace where{"campaigns/spring.yaml", 7, 10};

  auto all = book->resolve("all", kNow, where);
  REQUIRE(all);
  CHECK(all->where_sql == "1");
  CHECK(all->params.empty());

  auto canada = book->resolve(" canada ", kNow, where);
  REQUIRE(canada);
  auto direct = compile_segment("country = \"CA\"", kNow);
  REQUIRE(direct);
  CHECK(canada->where_sql == direct->where_sql);
  CHECK(canada->params == direct->params);
  // For PostgreSQL: its own SQL, and everyone is a boolean.
  const auto pg = store::Dialect::postgresql;
  CHECK(book->resolve("all", kNow, where, pg)->where_sql == "TRUE");
  auto pg_canada = book->resolve("canada", kNow, where, pg);
  REQUIRE(pg_canada);
  CHECK(pg_canada->where_sql == compile_segment("country = \"CA\"", kNow, pg)->where_sql);
  CHECK(pg_canada->where_sql != direct->where_sql);

  auto inline_ok = book->resolve("subscribed and canada_day = 1", kNow, where);
  REQUIRE(inline_ok);
  CHECK(book->resolve("subscribed", kNow, where));

  auto inline_bad = book->resolve("country = \"CA\" and", kNow, where);
  REQUIRE_FALSE(inline_bad);
  CHECK(inline_bad.error().to_string() == "campaigns/spring.yaml:7:28: expected a condition but found end of expression");

  auto typo = book->resolve("canadaa", kNow, where);
  REQUIRE_FALSE(typo);
  CHECK(typo.error().place.col == 10);
  CHECK(typo.error().message.find("no rule named 'canadaa'") == 0);

  auto broken = book->resolve("broken", kNow, where);
  REQUIRE_FALSE(broken);
  CHECK(broken.error().message.find("rule 'broken' in ") == 0);

  auto empty = book->resolve("  ", kNow, where);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().place.line == 7);
}

TEST_CASE("rule book: validate_file checks one file") {
  TempDir dir;
  std::vector<PlacedError> errors;
  CHECK(RuleBook::validate_file(dir.write("ok.yaml", "segment: 'has_tag(\"vip\")'\n"), errors));
  CHECK(RuleBook::validate_file(dir.write("auto.yaml", "trigger: opened\n"), errors));
  CHECK(errors.empty());
  CHECK_FALSE(RuleBook::validate_file(dir.write("bad.yaml", "segment: 'x in 1'\n"), errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].place.line == 1);
  CHECK(errors[0].place.col == 16);
  CHECK_FALSE(RuleBook::validate_file(dir.path() + "/absent.yaml", errors));
  CHECK(errors.size() == 2);
}

TEST_CASE("rule book: scalar places for folded plain scalars") {
  const std::string text = "segment:\n  a = 1\n  and b = 2\n";
  // Decoded value "a = 1 and b = 2": offset 6 is the 'a' of "and" on line 3.
  SourcePlace p = place_in_yaml_scalar(text, "f.yaml", 1, 2, 6);
  CHECK(p.line == 3);
  CHECK(p.col == 3);
  p = place_in_yaml_scalar(text, "f.yaml", 1, 2, 0);
  CHECK(p.line == 2);
  CHECK(p.col == 3);
}

#ifdef CAMPAIGND_SOURCE_DIR
TEST_CASE("rule book: the shipped rules load cleanly") {
  std::vector<PlacedError> errors;
  auto book = RuleBook::load(std::string(CAMPAIGND_SOURCE_DIR) + "/rules", errors);
  REQUIRE(book);
  for (const PlacedError& e : errors) FAIL_CHECK(e.to_string());
  CHECK(book->find("engaged-buyers"));
  CHECK(book->find("canada"));
  for (const auto& [name, rule] : book->rules()) {
    CAPTURE(name);
    CHECK(book->resolve(name, kNow, SourcePlace{"campaign.yaml", 1, 10}));
  }
}
#endif
