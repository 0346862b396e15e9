// store/pg/placeholders: SQLite markers to PostgreSQL's, and what must be left alone.
#include <doctest/doctest.h>

#include <string>

#include "daemon/store/pg/placeholders.hpp"

using campaignd::store::pg::translate_placeholders;

namespace {

std::string tr(std::string_view sql) {
  auto r = translate_placeholders(sql);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  return r->sql;
}

int count(std::string_view sql) {
  auto r = translate_placeholders(sql);
  REQUIRE_MESSAGE(r, (r ? "" : r.error()));
  return r->parameters;
}

std::string error_of(std::string_view sql) {
  auto r = translate_placeholders(sql);
  REQUIRE_MESSAGE(!r, "expected an error for: " << sql);
  return r.error();
}

}  // namespace

TEST_CASE("placeholders: numbered and bare markers") {
  CHECK(tr("SELECT 1") == "SELECT 1");
  CHECK(tr("") == "");
  CHECK(tr("WHERE a = ?1 AND b = ?2") == "WHERE a = $1 AND b = $2");
  CHECK(tr("VALUES (?, ?, ?)") == "VALUES ($1, $2, $3)");
  CHECK(count("VALUES (?, ?, ?)") == 3);
  // A number may repeat and come in any order; the count is the highest.
  CHECK(tr("SET x = ?3 WHERE id = ?1 OR ?3 > ?1") == "SET x = $3 WHERE id = $1 OR $3 > $1");
  CHECK(count("SET x = ?3 WHERE id = ?1") == 3);
  CHECK(tr("?12") == "$12");
  // SQLite: a bare ? takes one more than the highest number so far.
  CHECK(tr("?2, ?, ?1, ?") == "$2, $3, $1, $4");
  CHECK(tr("a=?1,b=?") == "a=$1,b=$2");
  CHECK(tr("x IN (?,?)") == "x IN ($1,$2)");
  CHECK(tr("?65535") == "$65535");
}

TEST_CASE("placeholders: question marks in text are not markers") {
  CHECK(tr("SELECT '?' , ?") == "SELECT '?' , $1");
  CHECK(tr("SELECT 'it''s ?1', ?1") == "SELECT 'it''s ?1', $1");
  CHECK(tr("SELECT '', ?") == "SELECT '', $1");
  CHECK(tr("SELECT '''', ?") == "SELECT '''', $1");
  CHECK(tr("SELECT \"we?ird\"\"?\" FROM t WHERE a = ?") == "SELECT \"we?ird\"\"?\" FROM t WHERE a = $1");
  CHECK(tr("SELECT 1 -- what? ?1\n, ?") == "SELECT 1 -- what? ?1\n, $1");
  CHECK(tr("SELECT ? -- trailing ?") == "SELECT $1 -- trailing ?");
  CHECK(tr("SELECT /* ? */ ?") == "SELECT /* ? */ $1");
  // PostgreSQL nests block comments.
  CHECK(tr("/* a /* ? */ still ? */ ?") == "/* a /* ? */ still ? */ $1");
  // E'' strings: a backslash escapes the quote.
  CHECK(tr("SELECT E'a\\'?', ?") == "SELECT E'a\\'?', $1");
  CHECK(tr("SELECT e'\\\\', ?") == "SELECT e'\\\\', $1");
  // …but only where E stands alone: in `some'…'` (no such syntax) and `name'…'` it is an identifier's.
  CHECK(tr("SELECT name'?', ?") == "SELECT name'?', $1");
  CHECK(tr("SELECT '\\', ?") == "SELECT '\\', $1");  // a standard string: backslash is a character
  // Dollar quotes, bare and tagged; a tag inside the body that differs does not close it.
  CHECK(tr("DO $$ SELECT '?' ? $$; SELECT ?") == "DO $$ SELECT '?' ? $$; SELECT $1");
  CHECK(tr("AS $fn$ x ? $other$ ? $fn$ , ?") == "AS $fn$ x ? $other$ ? $fn$ , $1");
  // Multi-byte text passes through.
  CHECK(tr("SELECT 'héllo ✉ ?', ?") == "SELECT 'héllo ✉ ?', $1");
}

TEST_CASE("placeholders: PostgreSQL text passes through") {
  CHECK(tr("SELECT $1, $2::jsonb") == "SELECT $1, $2::jsonb");
  CHECK(count("SELECT $1, $2::jsonb") == 2);
  CHECK(tr("SELECT a$b, ?1 FROM t") == "SELECT a$b, $1 FROM t");
  CHECK(tr("SELECT x::text, ?") == "SELECT x::text, $1");
  CHECK(tr("SELECT arr[1:2], ?") == "SELECT arr[1:2], $1");
  CHECK(tr("WHERE attrs @> ?1 AND ?2 <@ tags") == "WHERE attrs @> $1 AND $2 <@ tags");
  // Mixed: a bare ? after $2 continues from 2.
  CHECK(tr("$2, ?") == "$2, $3");
}

TEST_CASE("placeholders: malformed SQL names the offset") {
  CHECK(error_of("SELECT 'open").find("offset 7: unterminated string") != std::string::npos);
  CHECK(error_of("SELECT 'a''").find("unterminated string") != std::string::npos);
  CHECK(error_of("SELECT E'a\\'").find("unterminated string") != std::string::npos);
  CHECK(error_of("SELECT \"id").find("unterminated quoted identifier") != std::string::npos);
  CHECK(error_of("SELECT /* x").find("offset 7: unterminated block comment") != std::string::npos);
  CHECK(error_of("SELECT /* /* */").find("unterminated block comment") != std::string::npos);
  CHECK(error_of("SELECT $tag$ body").find("unterminated dollar-quoted") != std::string::npos);
  CHECK(error_of("WHERE a = ?0").find("offset 10: parameter number out of range") != std::string::npos);
  CHECK(error_of("WHERE a = ?65536").find("out of range") != std::string::npos);
  CHECK(error_of("WHERE a = ?99999999999999999999").find("out of range") != std::string::npos);
  CHECK(error_of("WHERE a = $0").find("out of range") != std::string::npos);
  CHECK(error_of("WHERE a = :name").find("offset 10: named parameter ':") != std::string::npos);
  CHECK(error_of("WHERE a = @name").find("named parameter '@") != std::string::npos);
  CHECK(error_of("WHERE a = $name").find("named parameter '$") != std::string::npos);
  // More bare markers than PostgreSQL allows.
  std::string many = "?65535";
  many += ", ?";
  CHECK(error_of(many).find("more than 65535") != std::string::npos);
}
