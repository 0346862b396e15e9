// The inbound MIME reader: headers, encodings, charsets, multipart walking, and hostile input.
#include <doctest/doctest.h>

#include <string>

#include "daemon/tracking/inbound/mail_parser.hpp"
#include "tests/unit/tracking/inbound/inbound_test_support.hpp"

using namespace campaignd;
using namespace campaignd::tracking::inbound;

TEST_CASE("mail parser: folded headers are unfolded, names match in any case") {
  auto m = parse_message(
      "Subject: a long\r\n subject\r\n\tline\r\nX-Empty:\r\nreferences: <a@x>\r\n  <b@x>\r\n\r\nbody\r\n");
  REQUIRE(m);
  CHECK(m->root.headers.value("subject") == "a long subject\tline");
  CHECK(m->root.headers.has("X-EMPTY"));
  CHECK(m->root.headers.value("X-Empty").empty());
  CHECK(message_ids(m->root.headers.value("References")) == std::vector<std::string>{"a@x", "b@x"});
  CHECK(m->root.body == "body\r\n");
  CHECK(m->root.content_type.mime_type() == "text/plain");
  CHECK(m->warnings.empty());
}

TEST_CASE("mail parser: LF-only mail, mbox From line, obsolete 'Name :' syntax, repeated fields") {
  auto m = parse_message("From someone@example Mon Mar  2 10:00:00 2026\nReceived: a\nReceived : b\nTo: x@y\n\nhi\n");
  REQUIRE(m);
  CHECK(m->root.headers.get_all("Received") == std::vector<std::string>{"a", "b"});
  CHECK(m->root.headers.value("To") == "x@y");
  CHECK(m->root.body == "hi\n");
}

TEST_CASE("mail parser: RFC 2047 encoded-words") {
  CHECK(decode_rfc2047("=?UTF-8?B?SsO8cmdlbg==?=") == "Jürgen");
  CHECK(decode_rfc2047("=?iso-8859-1?Q?d=E9jeuner_=E0_midi?=") == "déjeuner à midi");
  // Whitespace between adjacent encoded-words goes; around plain text it stays.
  CHECK(decode_rfc2047("=?utf-8?Q?a?= =?utf-8?Q?b?= c =?utf-8?Q?d?=") == "ab c d");
  // A character split over two words still decodes.
  CHECK(decode_rfc2047("=?UTF-8?B?w6k=?= =?UTF-8?B?w6k=?=") == "éé");
  CHECK(decode_rfc2047("=?UTF-8?B?ww==?=  =?UTF-8?B?qQ==?=") == "é");
  CHECK(decode_rfc2047("Re: plain") == "Re: plain");
  CHECK(decode_rfc2047("=?windows-1252?Q?=93quoted=94?=") == "\u201Cquoted\u201D");
  CHECK(decode_rfc2047("=?UTF-8*en?Q?lang?=") == "lang");
}

TEST_CASE("mail parser: invalid encoded-words are left as written and never produce invalid UTF-8") {
  CHECK(decode_rfc2047("=?UTF-8?X?abc?=") == "=?UTF-8?X?abc?=");
  CHECK(decode_rfc2047("=?UTF-8?B?unterminated") == "=?UTF-8?B?unterminated");
  CHECK(decode_rfc2047("=??B?abc?=") == "=??B?abc?=");
  CHECK(decode_rfc2047("=?") == "=?");
  CHECK(decode_rfc2047("=?utf-8?q?has space?=") == "=?utf-8?q?has space?=");
  // Bytes that are not UTF-8, encoded or raw, become U+FFFD.
  CHECK(decode_rfc2047("=?utf-8?B?/w==?=") == "\uFFFD");
  CHECK(decode_rfc2047("raw \xff\xfe") == "raw \uFFFD\uFFFD");
  CHECK(decode_rfc2047("=?utf-8?B?!!!?=").empty());
}

TEST_CASE("mail parser: quoted-printable") {
  CHECK(decode_quoted_printable("caf=C3=A9 soft=\r\nbreak=\nend") == "café softbreakend");
  CHECK(decode_quoted_printable("bad =ZZ and =4") == "bad =ZZ and =4");
  CHECK(decode_quoted_printable("trailing=   \nnext") == "trailingnext");
  CHECK(decode_quoted_printable("a_b", true) == "a b");
  CHECK(decode_quoted_printable("=") == "");
}

TEST_CASE("mail parser: base64, strict and lenient") {
  bool ok = false;
  CHECK(decode_base64("aGVs\r\nbG8=", &ok) == "hello");
  CHECK(ok);
  CHECK(decode_base64("aGVs*bG8=", &ok) == "hello");
  CHECK_FALSE(ok);
  CHECK(decode_base64("aGVsbG8", &ok) == "hello");  // padding missing
  decode_base64("aGVsbA=x", &ok);
  CHECK_FALSE(ok);
  CHECK(decode_base64("").empty());
}

TEST_CASE("mail parser: charsets to UTF-8") {
  CHECK(to_utf8("caf\xe9", "ISO-8859-1") == "café");
  CHECK(to_utf8("caf\xe9", "\"latin1\"") == "café");
  CHECK(to_utf8("\x80 \x93x\x94", "windows-1252") == "€ \u201Cx\u201D");
  CHECK(to_utf8("\xa4", "iso-8859-15") == "€");
  CHECK(to_utf8("caf\xc3\xa9", "utf-8") == "café");
  CHECK(to_utf8("a\xc3", "utf-8") == "a\uFFFD");                  // truncated sequence
  CHECK(to_utf8("\xc0\xaf", "utf-8") == "\uFFFD\uFFFD");          // overlong
  CHECK(to_utf8("\xed\xa0\x80", "utf-8") == "\uFFFD\uFFFD\uFFFD");  // surrogate
  CHECK(to_utf8("plain", "x-unknown") == "plain");
}

TEST_CASE("mail parser: content type parameters") {
  auto ct = parse_content_type("Multipart/Report; report-type=\"delivery-status\";\tboundary=\"a;b \\\"c\"");
  CHECK(ct.mime_type() == "multipart/report");
  CHECK(ct.param("report-type") == "delivery-status");
  CHECK(ct.param("boundary") == "a;b \"c");
  auto bad = parse_content_type("garbage");
  CHECK(bad.mime_type() == "text/plain");
  auto ext = parse_content_type("text/plain; charset*=utf-8''iso-8859-1 (comment)");
  CHECK(ext.param("charset") == "iso-8859-1");
  CHECK(parse_content_type("text/html (a comment); charset=utf-8").mime_type() == "text/html");
}

TEST_CASE("mail parser: addresses and identifiers") {
  CHECK(address_of("\"Doe, Jane\" <jane@example.com>") == "jane@example.com");
  CHECK(address_of("jane@example.com (Jane)") == "jane@example.com");
  CHECK(address_of("<>").empty());
  CHECK(addresses_of("\"Doe, Jane\" <jane@example.com>, bob@example.com, <c@example.com>") ==
        std::vector<std::string>{"jane@example.com", "bob@example.com", "c@example.com"});
  CHECK(message_ids("<a@b> (comment) <c@d>") == std::vector<std::string>{"a@b", "c@d"});
  CHECK(message_ids("bare@id.example") == std::vector<std::string>{"bare@id.example"});
  CHECK(message_ids("not an id").empty());
  CHECK(message_ids("<unclosed@x").empty());
}

TEST_CASE("mail parser: multipart walking, nested, attachments, embedded message") {
  auto m = inbound_testing::parse_sample("multipart_utf8_reply.eml");
  CHECK(m.warnings.empty());
  REQUIRE(m.root.children.size() == 2);
  CHECK(m.root.children[0].content_type.mime_type() == "multipart/alternative");
  REQUIRE(m.root.children[0].children.size() == 2);
  CHECK(m.root.children[0].children[0].body.find("Größe M?") != std::string::npos);
  CHECK(m.root.children[1].content_type.mime_type() == "image/jpeg");
  CHECK(m.root.children[1].body.substr(0, 3) == "\xff\xd8\xff");
  CHECK(text_body(m.root).rfind("Guten Tag,", 0) == 0);
  CHECK(decode_rfc2047(m.root.headers.value("Subject")) == "Re: Jürgen, 20 % Rabatt – gibt es Größe M?");
  CHECK(decode_rfc2047(m.root.headers.value("From")) == "Jürgen Müller <juergen@web.example>");

  auto dsn = inbound_testing::parse_sample("postfix_host_not_found.eml");
  REQUIRE(dsn.root.children.size() == 3);
  REQUIRE(dsn.root.children[2].children.size() == 1);  // the returned message
  CHECK(dsn.root.children[2].children[0].headers.value("Message-ID") == "<cd.1.1001.7f3a@acme.example>");
}

TEST_CASE("mail parser: text body falls back to HTML, quoted blocks marked") {
  auto m = parse_message(
      "Content-Type: text/html; charset=utf-8\n\n<html><head><style>p{}</style></head><body><p>Yes&nbsp;please "
      "&amp; thanks&#33;</p><blockquote><p>old text</p></blockquote><script>x()</script></body></html>");
  REQUIRE(m);
  std::string text = text_body(m->root);
  CHECK(text.find("Yes please & thanks!") == 0);
  CHECK(text.find("> old text") != std::string::npos);
  CHECK(text.find("x()") == std::string::npos);
  CHECK(text.find("p{}") == std::string::npos);
}

TEST_CASE("mail parser: HTML with bare ampersands, unknown entities and broken tags") {
  CHECK(html_to_text("Tom & Jerry &bogus; &#xZZ; &#1114112; &") == "Tom & Jerry &bogus; &#xZZ; &#1114112; &");
  CHECK(html_to_text("a<br>b<p>c</p>d <unclosed") == "a\nb\nc\nd");
  CHECK(html_to_text("&lt;tag&gt; &#233;&#xe9;") == "<tag> éé");
}

TEST_CASE("mail parser: hostile input - empty, no header, no blank line") {
  CHECK_FALSE(parse_message(""));
  CHECK_FALSE(parse_message("\r\n\r\n"));
  CHECK_FALSE(parse_message("just some words\nand more\n"));
  auto no_blank = parse_message("Subject: hi\nFrom: a@b\nthis line is the body\nmore");
  REQUIRE(no_blank);
  CHECK(no_blank->root.headers.size() == 2);
  CHECK(no_blank->root.body == "this line is the body\nmore");
  CHECK_FALSE(no_blank->warnings.empty());
  auto only_headers = parse_message("Subject: hi");
  REQUIRE(only_headers);
  CHECK(only_headers->root.body.empty());
  ParseLimits small;
  small.max_message_bytes = 10;
  CHECK_FALSE(parse_message("Subject: too long for the limit\n\n", small));
}

TEST_CASE("mail parser: hostile input - 10k nested multiparts stop at the depth limit") {
  std::string raw = "Content-Type: multipart/mixed; boundary=b0\n\n";
  std::string tail;
  for (int i = 0; i < 10000; ++i) {
    raw += "--b" + std::to_string(i) + "\nContent-Type: multipart/mixed; boundary=b" + std::to_string(i + 1) + "\n\n";
    tail = "--b" + std::to_string(i) + "--\n" + tail;
  }
  raw += "deep\n" + tail;
  auto m = parse_message(raw);
  REQUIRE(m);
  int depth = 0;
  const MimePart* p = &m->root;
  while (!p->children.empty()) {
    p = &p->children.front();
    ++depth;
  }
  CHECK(depth == ParseLimits{}.max_depth);
  bool warned = false;
  for (const auto& w : m->warnings) warned = warned || w.find("nesting") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("mail parser: hostile input - nested embedded messages stop too") {
  std::string raw;
  for (int i = 0; i < 5000; ++i) raw += "Content-Type: message/rfc822\n\n";
  raw += "Subject: innermost\n\nx";
  auto m = parse_message(raw);
  REQUIRE(m);
  int depth = 0;
  for (const MimePart* p = &m->root; !p->children.empty(); p = &p->children.front()) ++depth;
  CHECK(depth <= ParseLimits{}.max_depth);
}

TEST_CASE("mail parser: hostile input - many parts, missing and unused boundaries") {
  std::string many = "Content-Type: multipart/mixed; boundary=x\n\n";
  for (int i = 0; i < 5000; ++i) many += "--x\n\npart\n";
  many += "--x--\n";
  auto m = parse_message(many);
  REQUIRE(m);
  CHECK(m->root.children.size() < 5000);
  CHECK(m->root.children.size() == ParseLimits{}.max_parts - 1);

  auto no_param = parse_message("Content-Type: multipart/mixed\n\n--x\n\nhello\n--x--\n");
  REQUIRE(no_param);
  CHECK(no_param->root.children.empty());
  CHECK(no_param->root.body.find("hello") != std::string::npos);
  CHECK_FALSE(no_param->warnings.empty());

  auto absent = parse_message("Content-Type: multipart/mixed; boundary=zzz\n\n--x\n\nhello\n");
  REQUIRE(absent);
  CHECK(absent->root.children.empty());
  CHECK_FALSE(absent->warnings.empty());

  auto unclosed = parse_message("Content-Type: multipart/mixed; boundary=q\n\npreamble\n--q\n\nfirst\n--q\n\nsecond");
  REQUIRE(unclosed);
  REQUIRE(unclosed->root.children.size() == 2);
  CHECK(unclosed->root.children[0].body == "first");
  CHECK(unclosed->root.children[1].body == "second");

  // A boundary that only prefixes a line is not a delimiter.
  auto prefix = parse_message("Content-Type: multipart/mixed; boundary=ab\n\n--ab\n\n--abc\n--ab--\n");
  REQUIRE(prefix);
  REQUIRE(prefix->root.children.size() == 1);
  CHECK(prefix->root.children[0].body == "--abc");
}

TEST_CASE("mail parser: hostile input - invalid base64 and QP bodies are decoded best effort") {
  std::string raw = "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n\naGVsbG8g!!!d29y\xff";
  raw += std::string(1, '\0') + "bGQ=\n";
  auto m = parse_message(raw);
  REQUIRE(m);
  CHECK(m->root.body == "hello world");
  CHECK_FALSE(m->warnings.empty());
  auto qp = parse_message("Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=FF=\n=ZZ");
  REQUIRE(qp);
  CHECK(qp->root.body == "\uFFFD=ZZ");
}

TEST_CASE("mail parser: hostile input - huge headers are cut, counted and still parsed") {
  std::string raw = "Subject: " + std::string(5 * 1024 * 1024, 'a') + "\n";
  for (int i = 0; i < 200000; ++i) raw += " folded continuation\n";
  for (int i = 0; i < 3000; ++i) raw += "X-H" + std::to_string(i) + ": v\n";
  raw += "\nbody";
  auto m = parse_message(raw);
  REQUIRE(m);
  CHECK(m->root.headers.value("Subject").size() <= ParseLimits{}.max_header_value_bytes);
  CHECK(m->root.headers.size() == ParseLimits{}.max_headers);
  CHECK(m->root.body == "body");
  CHECK(m->warnings.size() >= 2);
}

TEST_CASE("mail parser: hostile input - random bytes never crash") {
  // A fixed pseudo-random sequence keeps the test repeatable.
  std::uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525u + 1013904223u;
    return state >> 24;
  };
  const std::string pieces[] = {"Content-Type: multipart/mixed; boundary=b\n", "--b\n", "--b--\n", "\n",
                                "Content-Transfer-Encoding: base64\n", "=?utf-8?B?", "?=", "Content-Type: message/rfc822\n",
                                "Subject: x\n", " cont\n", "\r", "=", "\xff", "<", ">"};
  for (int round = 0; round < 300; ++round) {
    std::string raw;
    int n = static_cast<int>(next() % 60);
    for (int i = 0; i < n; ++i) raw += pieces[next() % std::size(pieces)];
    auto m = parse_message(raw);
    if (m) {
      (void)text_body(m->root);
      (void)decode_rfc2047(m->root.headers.value("Subject"));
    }
  }
  CHECK(true);
}
