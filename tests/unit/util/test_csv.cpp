// The RFC 4180 reader: every accepted form, every malformed one, and the line numbers.
#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "daemon/util/csv.hpp"

using campaignd::util::CsvReader;
using campaignd::util::CsvRecord;
using campaignd::util::is_valid_utf8;

namespace {

using Fields = std::vector<std::string>;

// Either a record (fields, line) or an error message, in input order.
struct Item {
  Fields fields;
  long line = 0;
  std::string error;
};

std::vector<Item> read_all(const std::string& text, const std::string& name = "") {
  std::istringstream in(text);
  CsvReader reader(in, name);
  CsvRecord rec;
  std::vector<Item> out;
  for (int guard = 0; guard < 100000; ++guard) {
    auto got = reader.next(rec);
    if (!got) {
      out.push_back({{}, rec.line, got.error()});
      continue;
    }
    if (!*got) break;
    out.push_back({rec.fields, rec.line, ""});
  }
  return out;
}

}  // namespace

TEST_CASE("csv: plain records with LF, CRLF and lone CR line ends") {
  for (std::string eol : {"\n", "\r\n", "\r"}) {
    CAPTURE(eol.size());
    auto items = read_all("email,name" + eol + "a@example.com,Ann" + eol + "b@example.com,Bob" + eol);
    REQUIRE(items.size() == 3);
    CHECK(items[0].fields == Fields{"email", "name"});
    CHECK(items[1].fields == Fields{"a@example.com", "Ann"});
    CHECK(items[2].fields == Fields{"b@example.com", "Bob"});
    CHECK(items[0].line == 1);
    CHECK(items[1].line == 2);
    CHECK(items[2].line == 3);
  }
}

TEST_CASE("csv: a missing final line break still ends the last record") {
  auto items = read_all("a,b\nc,d");
  REQUIRE(items.size() == 2);
  CHECK(items[1].fields == Fields{"c", "d"});
  auto quoted = read_all("a,\"b\"");
  REQUIRE(quoted.size() == 1);
  CHECK(quoted[0].fields == Fields{"a", "b"});
}

TEST_CASE("csv: empty fields, trailing commas and empty quoted fields") {
  auto items = read_all("a,,b\n,\n\"\",x,\n");
  REQUIRE(items.size() == 3);
  CHECK(items[0].fields == Fields{"a", "", "b"});
  CHECK(items[1].fields == Fields{"", ""});
  CHECK(items[2].fields == Fields{"", "x", ""});
  auto at_eof = read_all("a,b,");
  REQUIRE(at_eof.size() == 1);
  CHECK(at_eof[0].fields == Fields{"a", "b", ""});
}

TEST_CASE("csv: quoted fields keep commas, doubled quotes and spaces") {
  auto items = read_all("\"Smith, Jane\",\"say \"\"hi\"\"\",\" padded \",\"\"\"\"\n");
  REQUIRE(items.size() == 1);
  CHECK(items[0].fields == Fields{"Smith, Jane", "say \"hi\"", " padded ", "\""});
}

TEST_CASE("csv: an embedded line break stays in the field and the next record's line is right") {
  auto items = read_all("h1,h2\n\"line one\nline two\nline three\",x\nnext,row\n\"a\r\nb\",y\r\nlast,one\r\n");
  REQUIRE(items.size() == 5);
  CHECK(items[1].fields == Fields{"line one\nline two\nline three", "x"});
  CHECK(items[1].line == 2);
  CHECK(items[2].fields == Fields{"next", "row"});
  CHECK(items[2].line == 5);
  CHECK(items[3].fields == Fields{"a\r\nb", "y"});
  CHECK(items[3].line == 6);
  CHECK(items[4].line == 8);
}

TEST_CASE("csv: blank lines are skipped but counted") {
  auto items = read_all("\n\r\nemail\n\n\na@example.com\r\n\r\n\nb@example.com\n\n");
  REQUIRE(items.size() == 3);
  CHECK(items[0].line == 3);
  CHECK(items[1].line == 6);
  CHECK(items[1].fields == Fields{"a@example.com"});
  CHECK(items[2].line == 9);
  CHECK(read_all("").empty());
  CHECK(read_all("\n\n\r\n").empty());
}

TEST_CASE("csv: a UTF-8 byte order mark at the start is dropped, elsewhere it is data") {
  auto items = read_all("\xEF\xBB\xBF" "email,name\nx@example.com,\xEF\xBB\xBFZo\xC3\xAB\n");
  REQUIRE(items.size() == 2);
  CHECK(items[0].fields == Fields{"email", "name"});
  CHECK(items[1].fields[1] == "\xEF\xBB\xBFZo\xC3\xAB");
  auto only_bom = read_all("\xEF\xBB\xBF");
  CHECK(only_bom.empty());
  auto quoted_first = read_all("\xEF\xBB\xBF\"email\"\n");
  REQUIRE(quoted_first.size() == 1);
  CHECK(quoted_first[0].fields == Fields{"email"});
}

TEST_CASE("csv: a quote inside an unquoted field is an error on its line, then reading resumes") {
  auto items = read_all("a,b\nbad,x\"y\nc,d\n");
  REQUIRE(items.size() == 3);
  CHECK(items[1].error.find("line 2:") == 0);
  CHECK(items[1].error.find("field 2") != std::string::npos);
  CHECK(items[1].line == 2);
  CHECK(items[2].fields == Fields{"c", "d"});
  CHECK(items[2].line == 3);
  // a leading space makes the field unquoted, so its quote is an error too
  auto spaced = read_all("a, \"b\"\n");
  REQUIRE(spaced.size() == 1);
  CHECK_FALSE(spaced[0].error.empty());
}

TEST_CASE("csv: text after a closing quote is an error naming the physical line") {
  auto items = read_all("h\n\"multi\nline\"oops,z\nok,1\n", "people.csv");
  REQUIRE(items.size() == 3);
  CHECK(items[1].error.find("people.csv:3: field 1: text after the closing quote") == 0);
  CHECK(items[1].line == 2);  // where the record starts
  CHECK(items[2].fields == Fields{"ok", "1"});
  CHECK(items[2].line == 4);
}

TEST_CASE("csv: an unterminated quoted field ends the input with an error naming where it opened") {
  auto items = read_all("a,b\nc,d\ne,\"never closed\nmore\nlines\n");
  REQUIRE(items.size() == 3);
  CHECK(items[1].fields == Fields{"c", "d"});
  CHECK(items[2].error.find("line 3: field 2: quoted field opened here is never closed") == 0);
  CHECK(items[2].line == 3);
}

TEST_CASE("csv: a field that is not valid UTF-8 fails its record only") {
  auto items = read_all("a,b\nok,\xC3\xA9t\xC3\xA9\nbad,\xFF\xFE\nnext,\"\xE2\x82\"\nfine,\xE2\x82\xAC\n");
  REQUIRE(items.size() == 5);
  CHECK(items[1].fields == Fields{"ok", "\xC3\xA9t\xC3\xA9"});
  CHECK(items[2].error == "line 3: field 2 is not valid UTF-8");
  CHECK(items[3].error == "line 4: field 2 is not valid UTF-8");
  CHECK(items[4].fields == Fields{"fine", "\xE2\x82\xAC"});
  CHECK(items[4].line == 5);
}

TEST_CASE("csv: UTF-8 validation rejects overlongs, surrogates and out-of-range code points") {
  CHECK(is_valid_utf8(""));
  CHECK(is_valid_utf8("plain ascii"));
  CHECK(is_valid_utf8("\xC3\xA9"));                  // é
  CHECK(is_valid_utf8("\xE2\x82\xAC"));              // €
  CHECK(is_valid_utf8("\xF0\x9F\x98\x80"));          // 😀
  CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF
  CHECK_FALSE(is_valid_utf8("\xC0\xAF"));            // overlong '/'
  CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));        // overlong, 3 bytes
  CHECK_FALSE(is_valid_utf8("\xF0\x80\x80\xAF"));    // overlong, 4 bytes
  CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));        // surrogate U+D800
  CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));    // past U+10FFFF
  CHECK_FALSE(is_valid_utf8("\x80"));                // lone continuation
  CHECK_FALSE(is_valid_utf8("\xC3"));                // truncated
  CHECK_FALSE(is_valid_utf8("\xE2\x82"));            // truncated
  CHECK_FALSE(is_valid_utf8("\xE2\x28\xA1"));        // bad continuation
}

TEST_CASE("csv: records crossing the read buffer boundary at every offset") {
  constexpr std::size_t kBuffer = 64 * 1024;
  // The tricky bytes ("" escape, CRLF inside quotes, closing quote + CRLF) land on the boundary
  // for one of these paddings each.
  const std::string tricky = "\"a\"\"b\",\"c\r\nd\"\r\nx,y\n";
  for (std::size_t pad = 0; pad < 12; ++pad) {
    CAPTURE(pad);
    std::string filler(kBuffer - pad - 1, 'z');
    auto items = read_all(filler + "\n" + tricky);
    REQUIRE(items.size() == 3);
    CHECK(items[0].fields[0].size() == filler.size());
    CHECK(items[1].fields == Fields{"a\"b", "c\r\nd"});
    CHECK(items[1].line == 2);
    CHECK(items[2].fields == Fields{"x", "y"});
    CHECK(items[2].line == 4);
  }
}

TEST_CASE("csv: many records, bytes consumed and reuse of the record") {
  std::string text = "id,name,note\n";
  for (int i = 0; i < 5000; ++i)
    text += std::to_string(i) + ",name" + std::to_string(i) + ",\"note, with \"\"quotes\"\" " + std::to_string(i) + "\"\n";
  std::istringstream in(text);
  CsvReader reader(in);
  CsvRecord rec;
  long count = 0;
  while (true) {
    auto got = reader.next(rec);
    REQUIRE(got);
    if (!*got) break;
    if (count > 0) {
      CHECK(rec.fields.size() == 3);
      CHECK(rec.fields[0] == std::to_string(count - 1));
      CHECK(rec.fields[2] == "note, with \"quotes\" " + std::to_string(count - 1));
    }
    CHECK(rec.line == count + 1);
    ++count;
  }
  CHECK(count == 5001);
  CHECK(reader.bytes_consumed() == text.size());
  auto again = reader.next(rec);
  REQUIRE(again);
  CHECK_FALSE(*again);
}

TEST_CASE("csv: a record longer than the limit ends the input") {
  std::istringstream in("a,b\n\"" + std::string(5000, 'x') + "\"\nc,d\n");
  CsvReader reader(in);
  reader.set_max_record_bytes(1000);
  CsvRecord rec;
  REQUIRE(reader.next(rec).value());
  auto got = reader.next(rec);
  REQUIRE_FALSE(got);
  CHECK(got.error().find("line 2: record longer than 1000 bytes") == 0);
  auto after = reader.next(rec);
  REQUIRE(after);
  CHECK_FALSE(*after);

  std::istringstream plain("a," + std::string(5000, 'y') + "\n");
  CsvReader reader2(plain);
  reader2.set_max_record_bytes(1000);
  CHECK_FALSE(reader2.next(rec));
}
