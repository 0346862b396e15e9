// build_mime: structure and line rules checked here, meaning checked by Python's email package.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <sstream>

#include "daemon/render/header_encoding.hpp"
#include "daemon/render/mime.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"
#include "tests/unit/render/render_test_support.hpp"

using namespace campaignd::render;
using campaignd::render::testing::parse_with_python;
using campaignd::util::Mailbox;
using nlohmann::json;

namespace {

OutgoingMessage sample() {
  OutgoingMessage m;
  m.from = Mailbox{"Acme Store", "news@acme.example"};
  m.reply_to = Mailbox{"", "support@acme.example"};
  m.to = Mailbox{"Ana Silva", "ana@example.org"};
  m.subject = "Ana, 20% off this week";
  m.text = "Hello Ana,\n\nSpring sale: 20% off.\nUnsubscribe: https://acme.example/u/TOKEN\n";
  m.html = "<html><body><p>Hello Ana,</p><p>Spring sale: <b>20% off</b>.</p>"
           "<p><a href=\"https://acme.example/u/TOKEN\">Unsubscribe</a></p></body></html>";
  m.message_id = "abc.123@acme.example";
  m.date = 1772355600;  // 2026-03-01 09:00:00 UTC
  m.extra_headers = {{"List-Unsubscribe", "<https://acme.example/u/TOKEN>, <mailto:unsubscribe@acme.example?subject=TOKEN>"},
                     {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
                     {"X-Campaign", "spring-sale"}};
  return m;
}

std::vector<std::string> lines_of(const std::string& message) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < message.size()) {
    size_t end = message.find("\r\n", start);
    if (end == std::string::npos) end = message.size();
    lines.push_back(message.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

std::string header_block(const std::string& message) { return message.substr(0, message.find("\r\n\r\n") + 2); }

// CRLF only, no line over 998, header lines within 78 (folded), bodies 7-bit.
void check_line_rules(const std::string& message) {
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r') REQUIRE_MESSAGE(i + 1 < message.size(), "CR at the very end");
    if (message[i] == '\r') REQUIRE_MESSAGE(message[i + 1] == '\n', "bare CR at ", i);
    if (message[i] == '\n') REQUIRE_MESSAGE((i > 0 && message[i - 1] == '\r'), "bare LF at ", i);
    REQUIRE_MESSAGE(static_cast<unsigned char>(message[i]) < 0x80, "8-bit octet at ", i);
  }
  CHECK(message.ends_with("\r\n"));
  bool in_headers = true;
  for (const auto& line : lines_of(message)) {
    CHECK(line.size() <= 998);
    if (line.empty()) in_headers = false;
    if (in_headers) CHECK_MESSAGE(line.size() <= 78, line);
    else CHECK_MESSAGE(line.size() <= 76, line);
  }
}

json parse_one(const std::string& message) {
  json parsed = parse_with_python({message});
  REQUIRE_MESSAGE(parsed.is_array(), "could not run tests/unit/render/parse_mime.py with /usr/bin/python3");
  REQUIRE(parsed.size() == 1);
  return parsed[0];
}

// Standard base64 through the util's base64url decoder.
std::string decode_base64(std::string b64) {
  while (b64.ends_with("=")) b64.pop_back();
  b64 = campaignd::util::replace_all(campaignd::util::replace_all(b64, "+", "-"), "/", "_");
  std::string raw;
  REQUIRE(campaignd::util::base64url_decode(b64, raw));
  return raw;
}

std::string with_final_newline(std::string s) {
  if (!s.empty() && !s.ends_with("\n")) s += "\n";
  return s;
}

}  // namespace

TEST_CASE("mime: text and html give multipart/alternative, text first, as Python reads it") {
  const OutgoingMessage m = sample();
  const std::string message = build_mime(m);
  check_line_rules(message);
  const json p = parse_one(message);
  CHECK(p["defects"] == json::array());
  CHECK(p["header_names"] == json({"Date", "From", "Reply-To", "To", "Subject", "Message-ID", "MIME-Version",
                                   "List-Unsubscribe", "List-Unsubscribe-Post", "X-Campaign", "Content-Type"}));
  CHECK(p["subject"] == m.subject);
  CHECK(p["from"]["display_name"] == "Acme Store");
  CHECK(p["from"]["addr_spec"] == "news@acme.example");
  CHECK(p["to"]["display_name"] == "Ana Silva");
  CHECK(p["to"]["addr_spec"] == "ana@example.org");
  CHECK(p["reply_to"]["display_name"] == "");
  CHECK(p["reply_to"]["addr_spec"] == "support@acme.example");
  CHECK(p["message_id"] == "<abc.123@acme.example>");
  CHECK(p["content_type"] == "multipart/alternative");
  REQUIRE(p["parts"].size() == 2);
  CHECK(p["parts"][0]["content_type"] == "text/plain");
  CHECK(p["parts"][1]["content_type"] == "text/html");
  for (const auto& part : p["parts"]) {
    CHECK(part["charset"] == "utf-8");
    CHECK(part["transfer_encoding"] == "quoted-printable");
    CHECK(part["defects"] == json::array());
  }
  CHECK(p["parts"][0]["body"] == *m.text);
  CHECK(p["parts"][1]["body"] == with_final_newline(*m.html));
  CHECK(message.starts_with("Date: Sun, 01 Mar 2026 09:00:00 +0000\r\nFrom: Acme Store <news@acme.example>\r\n"));
  CHECK(message.find("\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") != std::string::npos);
}

TEST_CASE("mime: a single part is sent without multipart") {
  OutgoingMessage html_only = sample();
  html_only.text.reset();
  OutgoingMessage text_only = sample();
  text_only.html.reset();
  OutgoingMessage neither = sample();
  neither.html.reset();
  neither.text.reset();
  const std::vector<std::string> messages = {build_mime(html_only), build_mime(text_only), build_mime(neither)};
  for (const auto& msg : messages) check_line_rules(msg);
  const json p = parse_with_python(messages);
  REQUIRE(p.is_array());
  CHECK(p[0]["content_type"] == "text/html");
  CHECK(p[0]["parts"][0]["body"] == with_final_newline(*html_only.html));
  CHECK(p[1]["content_type"] == "text/plain");
  CHECK(p[1]["parts"][0]["body"] == *text_only.text);
  CHECK(p[2]["content_type"] == "text/plain");
  CHECK(p[2]["parts"][0]["body"] == "");
  for (const auto& one : p) CHECK(one["defects"] == json::array());
  CHECK(messages[0].find("multipart") == std::string::npos);
}

TEST_CASE("mime: non-ASCII subject and names as RFC 2047 words that decode back") {
  OutgoingMessage m = sample();
  m.subject = "🎉 春のセール — 20% off für Jürgen 👨‍👩‍👧 und Ærøskøbing! 你好世界，今日は特別なお知らせがあります";
  m.from = Mailbox{"Jürgen's Läden GmbH", "news@acme.example"};
  m.to = Mailbox{"山田 太郎", "taro@example.jp"};
  m.text = "Grüße aus Köln 🌷\nZeile zwei — mit Gedankenstrich.\n";
  m.html = "<p>Grüße aus Köln 🌷</p>";
  const std::string message = build_mime(m);
  check_line_rules(message);
  const json p = parse_one(message);
  CHECK(p["defects"] == json::array());
  CHECK(p["subject"] == m.subject);
  CHECK(p["from"]["display_name"] == m.from.display_name);
  CHECK(p["from"]["display_name_rfc2047"] == m.from.display_name);
  CHECK(p["from"]["addr_spec"] == "news@acme.example");
  CHECK(p["to"]["display_name"] == m.to.display_name);
  CHECK(p["to"]["display_name_rfc2047"] == m.to.display_name);
  CHECK(p["parts"][0]["body"] == *m.text);
  CHECK(p["parts"][1]["body"] == with_final_newline(*m.html));

  // Each encoded-word is at most 75 characters and holds whole UTF-8 characters only.
  const std::string headers = header_block(message);
  size_t words = 0;
  for (size_t at = headers.find("=?UTF-8?B?"); at != std::string::npos; at = headers.find("=?UTF-8?B?", at + 1)) {
    const size_t end = headers.find("?=", at + 10);
    REQUIRE(end != std::string::npos);
    CHECK(end + 2 - at <= 75);
    const std::string raw = decode_base64(headers.substr(at + 10, end - at - 10));
    CHECK(!raw.empty());
    CHECK(sanitize_utf8(raw) == raw);  // whole UTF-8 characters only
    ++words;
  }
  CHECK(words >= 3);
  CHECK(headers.find("@acme.example>") != std::string::npos);  // the address itself is never encoded
}

TEST_CASE("encode_words: never splits a character, respects the budgets") {
  const std::string text = "日本語のテキスト🎉😀👍🏽" + std::string(40, 'x') + "é";
  for (size_t budget : {16, 40, 62, 75, 200}) {
    CAPTURE(budget);
    const auto words = encode_words(text, budget);
    REQUIRE_FALSE(words.empty());
    CHECK(words[0].size() <= std::min<size_t>(std::max<size_t>(budget, 16), 75));
    std::string joined;
    for (const auto& w : words) {
      CHECK(w.size() <= 75);
      REQUIRE(w.starts_with("=?UTF-8?B?"));
      REQUIRE(w.ends_with("?="));
      const std::string raw = decode_base64(w.substr(10, w.size() - 12));
      CHECK(sanitize_utf8(raw) == raw);  // whole characters only
      joined += raw;
    }
    CHECK(joined == text);
  }
  CHECK(encode_header_word("") == "");
  CHECK(encode_header_word("Hi") == "=?UTF-8?B?SGk=?=");
  CHECK(sanitize_utf8("a\xC3(b\xED\xA0\x80z\xF0\x9F\x8E") == "a\xEF\xBF\xBD(b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("mime: display names quoted or encoded as they need") {
  const auto from_line = [](const std::string& display) {
    OutgoingMessage m = sample();
    m.from = Mailbox{display, "news@acme.example"};
    const std::string message = build_mime(m);
    const size_t start = message.find("\r\nFrom: ") + 2;
    return message.substr(start, message.find("\r\nReply-To:") - start);
  };
  CHECK(from_line("Acme Store") == "From: Acme Store <news@acme.example>");
  CHECK(from_line("Acme, Inc") == "From: \"Acme, Inc\" <news@acme.example>");
  CHECK(from_line("J. \"Q\" Pub\\lic") == "From: \"J. \\\"Q\\\" Pub\\\\lic\" <news@acme.example>");
  CHECK(from_line("") == "From: news@acme.example");
  CHECK(from_line("Jürgen").starts_with("From: =?UTF-8?B?"));
  CHECK(from_line("=?UTF-8?B?SGk=?=").starts_with("From: =?UTF-8?B?"));  // literal text stays literal

  std::vector<std::string> names = {"Acme, Inc", "J. \"Q\" Pub\\lic", "O'Brien & Sons (UK)", "Jürgen",
                                    std::string(120, 'n'), "=?UTF-8?B?SGk=?="};
  std::vector<std::string> messages;
  for (const auto& n : names) {
    OutgoingMessage m = sample();
    m.from = Mailbox{n, "news@acme.example"};
    messages.push_back(build_mime(m));
    check_line_rules(messages.back());
  }
  const json p = parse_with_python(messages);
  REQUIRE(p.is_array());
  for (size_t i = 0; i < names.size(); ++i) {
    CAPTURE(names[i]);
    CHECK(p[i]["defects"] == json::array());
    CHECK(p[i]["from"]["display_name_rfc2047"] == names[i]);
    // Python 3.11's policy=default keeps the space between adjacent encoded-words in a phrase
    // (against RFC 2047 6.2); only the 120-character name needs more than one word.
    if (names[i].size() < 100) CHECK(p[i]["from"]["display_name"] == names[i]);
    CHECK(p[i]["from"]["addr_spec"] == "news@acme.example");
  }
}

TEST_CASE("mime: contact data cannot inject a header") {
  OutgoingMessage m = sample();
  m.to = Mailbox{"Bob\r\nBcc: victim@x.com", "bob@example.org"};
  m.subject = "Hi Bob\r\nBcc: victim2@x.com\r\n\r\nInjected body";
  m.from = Mailbox{"Shop\nBcc: victim3@x.com", "news@acme.example"};
  m.reply_to = Mailbox{"R\rBcc: v4@x.com", "r@acme.example\r\nBcc: v5@x.com"};
  m.message_id = "id@x\r\nBcc: v6@x.com";
  m.extra_headers = {{"X-Campaign", "c\r\nBcc: v7@x.com"}, {"Bcc", "v8@x.com"}, {"X-Evil\r\nBcc", "v9@x.com"},
                     {"Bad Name", "x"}, {"Content-Type", "text/evil"}, {"From", "evil@x.com"}};
  const std::string message = build_mime(m);
  check_line_rules(message);
  for (const auto& line : lines_of(header_block(message))) CHECK_FALSE(line.starts_with("Bcc"));
  const json p = parse_one(message);
  for (const auto& name : p["header_names"]) {
    CHECK(name != "Bcc");
    CHECK(name != "X-Evil");
  }
  std::multiset<std::string> names(p["header_names"].begin(), p["header_names"].end());
  CHECK(names.count("From") == 1);
  CHECK(names.count("Content-Type") == 1);
  CHECK(names.count("X-Campaign") == 1);
  CHECK(p["to"]["display_name"] == "Bob  Bcc: victim@x.com");
  CHECK(p["to"]["addr_spec"] == "bob@example.org");
  CHECK(p["subject"] == "Hi Bob  Bcc: victim2@x.com    Injected body");
  CHECK(p["parts"].size() == 2);
}

TEST_CASE("mime: long subjects fold at spaces and unfold to the original") {
  std::string subject;
  for (int i = 0; i < 40; ++i) subject += "word" + std::to_string(i) + (i % 7 == 0 ? "  " : " ");
  subject += "end";
  OutgoingMessage plain = sample();
  plain.subject = subject;
  OutgoingMessage unbroken = sample();
  unbroken.subject = "See https://acme.example/" + std::string(150, 'p') + " now";
  OutgoingMessage literal = sample();
  literal.subject = "Price =?UTF-8?B?SGk=?= today";
  OutgoingMessage long_list = sample();
  std::string targets = "<https://acme.example/u/" + std::string(120, 't') + ">";
  for (int i = 0; i < 5; ++i) targets += ", <mailto:u" + std::to_string(i) + "@acme.example>";
  long_list.extra_headers = {{"List-Unsubscribe", targets}};

  OutgoingMessage first_word_long = sample();
  first_word_long.subject = std::string(72, 'a') + " b";  // "Subject: " + 72 would pass 78

  const std::vector<std::string> messages = {build_mime(plain), build_mime(unbroken), build_mime(literal),
                                             build_mime(long_list), build_mime(first_word_long)};
  for (size_t i = 0; i < messages.size(); ++i) {
    CAPTURE(i);
    for (const auto& line : lines_of(header_block(messages[i]))) {
      CHECK(line.size() <= 998);
      if (!line.starts_with("List-Unsubscribe:") && !line.starts_with(" <https")) CHECK(line.size() <= 78);
    }
  }
  const std::string headers = header_block(messages[0]);
  CHECK(headers.find("Subject: word0  word1") != std::string::npos);  // plain ASCII stays readable
  CHECK(std::count(headers.begin(), headers.end(), '\n') > 12);      // folded onto several lines
  CHECK(header_block(messages[3]).find(std::string(120, 't')) != std::string::npos);  // never encoded

  const json p = parse_with_python(messages);
  REQUIRE(p.is_array());
  CHECK(p[0]["subject"] == subject);
  CHECK(p[1]["subject"] == unbroken.subject);
  CHECK(p[2]["subject"] == literal.subject);
  CHECK(p[4]["subject"] == first_word_long.subject);
  for (const auto& one : p) CHECK(one["defects"] == json::array());
}

TEST_CASE("mime: bodies with tricky content survive") {
  OutgoingMessage m = sample();
  std::string text = ".\n.leading dot\nFrom the team\n--=_cd_0000\n--\n=?x?=\ntrailing   \n";
  text += std::string(300, 'L') + "\n\ttab\r\nmixed\rends\n\n" + "Ünïcödé 🎉 " + std::string(100, 'u') + "\n";
  m.text = text;
  m.html = "<p>" + std::string(2000, 'h') + "</p>\n<p>a=b&amp;c</p>";
  const std::string message = build_mime(m);
  check_line_rules(message);
  const json p = parse_one(message);
  CHECK(p["defects"] == json::array());
  REQUIRE(p["parts"].size() == 2);
  std::string expected_text = campaignd::util::replace_all(text, "\r\n", "\n");
  expected_text = campaignd::util::replace_all(expected_text, "\r", "\n");
  CHECK(p["parts"][0]["body"] == expected_text);
  CHECK(p["parts"][1]["body"] == with_final_newline(*m.html));
}

TEST_CASE("make_message_id: unique, well formed, domain cleaned") {
  std::set<std::string> ids;
  for (int i = 0; i < 5000; ++i) ids.insert(make_message_id("Acme.Example"));
  CHECK(ids.size() == 5000);
  const std::string id = *ids.begin();
  CHECK(id.ends_with("@acme.example"));
  CHECK(id.find_first_of("<> \r\n") == std::string::npos);
  CHECK(make_message_id("evil>\r\n.example").ends_with("@evil.example"));
  CHECK(make_message_id("").ends_with("@localhost"));

  OutgoingMessage m = sample();
  m.message_id.clear();
  const std::string message = build_mime(m);
  CHECK(message.find("\r\nMessage-ID: <") != std::string::npos);
  CHECK(message.find("@acme.example>\r\nMIME-Version") != std::string::npos);
}
