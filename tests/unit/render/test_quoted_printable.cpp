// Quoted-printable: the RFC 2045 line rules hold, and a decoder written here gets the body back.
#include <doctest/doctest.h>

#include <random>
#include <string>

#include "daemon/render/quoted_printable.hpp"

using campaignd::render::qp_encode;

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A strict decoder: anything qp_encode must never write makes it return "<bad>".
std::string qp_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    if (s[i] != '=') {
      out += s[i++];
      continue;
    }
    if (s.substr(i + 1, 2) == "\r\n") {
      i += 3;
      continue;
    }
    if (i + 2 >= s.size() || hex_value(s[i + 1]) < 0 || hex_value(s[i + 2]) < 0) return "<bad>";
    out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
    i += 3;
  }
  return out;
}

// The body as the encoder promises to return it: CRLF line ends, ending with one.
std::string normalised(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += "\r\n";
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (s[i] == '\n') {
      out += "\r\n";
    } else {
      out += s[i];
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

// Every RFC 2045 6.7 rule the encoder must keep; returns what is broken, "" when all hold.
std::string qp_violation(std::string_view encoded) {
  size_t line_start = 0;
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '\n') return "bare LF at " + std::to_string(i);
    if (c == '\r') {
      if (i + 1 >= encoded.size() || encoded[i + 1] != '\n') return "bare CR at " + std::to_string(i);
      if (i - line_start > 76) return "line over 76 at " + std::to_string(line_start);
      if (i > line_start && (encoded[i - 1] == ' ' || encoded[i - 1] == '\t')) return "trailing white space";
      line_start = i + 2;
      ++i;
      continue;
    }
    if ((c < 0x20 && c != '\t') || c > 0x7e) return "unencoded byte at " + std::to_string(i);
    if (i == line_start && c == '.') return "line starts with '.'";
    if (encoded.substr(i, 5) == "From " && i == line_start) return "line starts with 'From '";
  }
  if (!encoded.empty() && !encoded.ends_with("\r\n")) return "does not end with CRLF";
  return "";
}

}  // namespace

TEST_CASE("quoted-printable: specific encodings") {
  CHECK(qp_encode("") == "");
  CHECK(qp_encode("Hello") == "Hello\r\n");
  CHECK(qp_encode("a=b") == "a=3Db\r\n");
  CHECK(qp_encode("Grüße") == "Gr=C3=BC=C3=9Fe\r\n");
  CHECK(qp_encode("trailing  \nspace\t") == "trailing =20\r\nspace=09\r\n");
  CHECK(qp_encode("one\r\ntwo\rthree\nfour\n") == "one\r\ntwo\r\nthree\r\nfour\r\n");
  CHECK(qp_encode("\n\n") == "\r\n\r\n");
  CHECK(qp_encode(".\n..x\nFrom me\nA From b") == "=2E\r\n=2E.x\r\n=46rom me\r\nA From b\r\n");
  CHECK(qp_encode(std::string("a\0b", 3)) == "a=00b\r\n");
}

TEST_CASE("quoted-printable: long lines get soft breaks at 76 characters") {
  const std::string line(200, 'x');
  const std::string enc = qp_encode(line);
  CHECK(qp_violation(enc) == "");
  CHECK(enc.substr(0, 76) == std::string(75, 'x') + "=");
  CHECK(qp_decode(enc) == line + "\r\n");
  // Exactly 76 fits without a soft break; 77 does not.
  CHECK(qp_encode(std::string(76, 'y')) == std::string(76, 'y') + "\r\n");
  CHECK(qp_encode(std::string(77, 'y')).find("=\r\n") != std::string::npos);
  // An escape is never split by a soft break, and a '.' pushed to the start of a line is encoded.
  std::string tricky = std::string(74, 'a') + "ü" + std::string(74, 'b') + ".end";
  CHECK(qp_violation(qp_encode(tricky)) == "");
  CHECK(qp_decode(qp_encode(tricky)) == tricky + "\r\n");
}

TEST_CASE("quoted-printable: random bodies round-trip and keep every rule") {
  std::mt19937 rng(20260301);
  const std::string alphabet[] = {"a", "Z", " ", "\t", "=", ".", "\r", "\n", "\r\n", "From ", "é", "🎉", "\x01", "\xff", "-"};
  for (int round = 0; round < 2000; ++round) {
    std::string body;
    const int pieces = static_cast<int>(rng() % 200);
    for (int i = 0; i < pieces; ++i) {
      const auto& piece = alphabet[rng() % std::size(alphabet)];
      body += (rng() % 3 == 0) ? std::string(rng() % 90, piece.empty() ? 'x' : piece[0]) : piece;
    }
    const std::string enc = qp_encode(body);
    REQUIRE_MESSAGE(qp_violation(enc) == "", "round ", round);
    REQUIRE_MESSAGE(qp_decode(enc) == normalised(body), "round ", round);
  }
}
