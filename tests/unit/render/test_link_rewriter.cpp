// Link rewriting for click tracking: real-world HTML, plain-text URLs and their punctuation,
// what is left alone, malformed input, and the open pixel.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "daemon/render/link_rewriter.hpp"

using namespace campaignd::render;

namespace {

// Maps every URL to "T<n>" and remembers what it was given.
struct Recorder {
  std::vector<std::string> seen;
  UrlMapper mapper() {
    return [this](std::string_view url) {
      seen.emplace_back(url);
      return "https://t.example/c/" + std::to_string(seen.size());
    };
  }
};

}  // namespace

TEST_CASE("link_rewriter: hrefs in any quoting, case and attribute order") {
  Recorder r;
  std::string html =
      "<html><body>\n"
      "<p><a href=\"https://shop.example/sale?a=1&amp;b=2#top\">Sale</a></p>\n"
      "<A class='btn' HREF='http://shop.example/x' target=_blank>X</A>\n"
      "<a\n  style=\"color:red\"\n  href = https://shop.example/bare >bare</a>\n"
      "<a title=\"a > b\" href=\"https://shop.example/after-gt\">gt in title</a>\n"
      "</body></html>";
  RewriteResult out = rewrite_html_links(html, r.mapper());
  CHECK(out.links == 4);
  REQUIRE(r.seen.size() == 4);
  CHECK(r.seen[0] == "https://shop.example/sale?a=1&b=2#top");  // &amp; decoded
  CHECK(r.seen[1] == "http://shop.example/x");
  CHECK(r.seen[2] == "https://shop.example/bare");
  CHECK(r.seen[3] == "https://shop.example/after-gt");
  CHECK(out.html ==
        "<html><body>\n"
        "<p><a href=\"https://t.example/c/1\">Sale</a></p>\n"
        "<A class='btn' HREF='https://t.example/c/2' target=_blank>X</A>\n"
        "<a\n  style=\"color:red\"\n  href = \"https://t.example/c/3\" >bare</a>\n"
        "<a title=\"a > b\" href=\"https://t.example/c/4\">gt in title</a>\n"
        "</body></html>");
  CHECK(out.text.empty());
}

TEST_CASE("link_rewriter: the replacement is HTML-escaped") {
  UrlMapper map = [](std::string_view) { return std::string("https://t.example/c?x=1&y=\"2\""); };
  RewriteResult out = rewrite_html_links("<a href='https://a.example/'>a</a>", map);
  CHECK(out.html == "<a href='https://t.example/c?x=1&amp;y=&quot;2&quot;'>a</a>");
}

TEST_CASE("link_rewriter: numeric references and surrounding spaces in href") {
  Recorder r;
  rewrite_html_links("<a href=\" https:&#x2F;&#47;a.example/p?q=&#39;x&#39; \">a</a>", r.mapper());
  REQUIRE(r.seen.size() == 1);
  CHECK(r.seen[0] == "https://a.example/p?q='x'");
  CHECK(decode_html_entities("&eacute;&#233;&#xE9;&bogus;&#0;&#xD800;&amp") == "&eacute;\xC3\xA9\xC3\xA9&bogus;&#0;&#xD800;&amp");
}

TEST_CASE("link_rewriter: what is left alone") {
  Recorder r;
  const std::string unsubscribe = "https://news.example/u/abc.def";
  std::string html =
      "<a href=\"mailto:help@shop.example\">mail</a>"
      "<a href=\"tel:+15551234\">call</a>"
      "<a href=\"#section\">jump</a>"
      "<a href=\"/relative\">rel</a>"
      "<a href=\"javascript:alert(1)\">js</a>"
      "<a href=\"https://news.example/u/abc.def\">unsubscribe</a>"
      "<a data-no-track href=\"https://private.example/\">private</a>"
      "<a href=\"https://private.example/2\" DATA-NO-TRACK=\"\">private 2</a>"
      "<a name=\"https://not-an-href.example/\">name</a>"
      "<abbr href=\"https://abbr.example/\">abbr</abbr>"
      "<img src=\"https://img.example/logo.png\">"
      "<!-- <a href=\"https://commented.example/\">c</a> -->"
      "<a href=\"https://tracked.example/\">yes</a>";
  RewriteResult out = rewrite_html_links(html, r.mapper(), {unsubscribe});
  CHECK(out.links == 1);
  REQUIRE(r.seen.size() == 1);
  CHECK(r.seen[0] == "https://tracked.example/");
  std::string expected = html;
  expected.replace(expected.find("https://tracked.example/"), 24, "https://t.example/c/1");
  CHECK(out.html == expected);
}

TEST_CASE("link_rewriter: an empty mapping leaves the link") {
  UrlMapper none = [](std::string_view) { return std::string(); };
  std::string html = "<a href=\"https://a.example/\">a</a>";
  RewriteResult out = rewrite_html_links(html, none);
  CHECK(out.links == 0);
  CHECK(out.html == html);
  CHECK(rewrite_text_links("go https://a.example/ now", none).text == "go https://a.example/ now");
}

TEST_CASE("link_rewriter: area elements and the first of two hrefs") {
  Recorder r;
  RewriteResult out = rewrite_html_links(
      "<map><area shape=rect href=https://a.example/1></map><a href=\"https://a.example/first\" "
      "href=\"https://a.example/second\">x</a>",
      r.mapper());
  REQUIRE(r.seen.size() == 2);
  CHECK(r.seen[0] == "https://a.example/1");
  CHECK(r.seen[1] == "https://a.example/first");
  CHECK(out.html == "<map><area shape=rect href=\"https://t.example/c/1\"></map><a href=\"https://t.example/c/2\" "
                    "href=\"https://a.example/second\">x</a>");
}

TEST_CASE("link_rewriter: malformed HTML never loses content") {
  Recorder r;
  static const char kWithNul[] = "<a href=\"https://a.example/\0x\">nul</a>";
  std::vector<std::string> inputs = {
      "",
      "<",
      "<a",
      "<a href",
      "<a href=",
      "<a href=\"https://a.example/",             // unterminated value
      "<a href='https://a.example/'",             // no closing '>'
      "text <!-- unclosed comment <a href=\"https://a.example/\">",
      "<<<a>>><a/><a href=>x</a><a =href=\"https://a.example\">",
      std::string(kWithNul, sizeof kWithNul - 1),
      "<a href=\"https://a.example/\xff\xfe\">bytes</a> \xc3",
  };
  for (const auto& in : inputs) {
    CAPTURE(in);
    RewriteResult out = rewrite_html_links(in, r.mapper());
    if (out.links == 0) CHECK(out.html == in);
    CHECK(out.html.size() + 40 >= in.size());  // at most an href swapped for a shorter one
  }
  // After a complete link, an unterminated tag keeps the rest verbatim.
  RewriteResult out = rewrite_html_links("<a href=https://a.example/1>1</a> tail <a href=\"https://a.example/2", r.mapper());
  CHECK(out.links == 1);
  CHECK(out.html.ends_with(" tail <a href=\"https://a.example/2"));
}

TEST_CASE("link_rewriter: text URLs and trailing punctuation") {
  Recorder r;
  std::string text =
      "See https://x.example/a. Or (https://x.example/b), or https://x.example/wiki/Foo_(bar)!\n"
      "Quoted \"https://x.example/q?x=1&y=2#frag\" and <https://x.example/angle>; last: HTTP://X.EXAMPLE/UP?\n"
      "Not: xhttps://no.example/, https:// alone, ftp://no.example/, [https://x.example/c]";
  RewriteResult out = rewrite_text_links(text, r.mapper());
  std::vector<std::string> expected = {
      "https://x.example/a",        "https://x.example/b",     "https://x.example/wiki/Foo_(bar)",
      "https://x.example/q?x=1&y=2#frag", "https://x.example/angle", "HTTP://X.EXAMPLE/UP",
      "https://x.example/c",
  };
  CHECK(r.seen == expected);
  CHECK(out.links == 7);
  CHECK(out.text ==
        "See https://t.example/c/1. Or (https://t.example/c/2), or https://t.example/c/3!\n"
        "Quoted \"https://t.example/c/4\" and <https://t.example/c/5>; last: https://t.example/c/6?\n"
        "Not: xhttps://no.example/, https:// alone, ftp://no.example/, [https://t.example/c/7]");
  CHECK(out.html.empty());
}

TEST_CASE("link_rewriter: text keeps the unsubscribe URL and stops at non-ASCII") {
  Recorder r;
  RewriteResult out = rewrite_text_links(
      "Unsubscribe: https://news.example/u/abc.def\nShop: https://shop.example/\xE2\x80\x94today", r.mapper(),
      {"https://news.example/u/abc.def"});
  REQUIRE(r.seen.size() == 1);
  CHECK(r.seen[0] == "https://shop.example/");
  CHECK(out.text == "Unsubscribe: https://news.example/u/abc.def\nShop: https://t.example/c/1\xE2\x80\x94today");
}

TEST_CASE("link_rewriter: both parts at once") {
  Recorder r;
  RewriteResult out = rewrite_links("<a href=\"https://a.example/\">a</a>", "https://b.example/", r.mapper());
  CHECK(out.links == 2);
  CHECK(out.html == "<a href=\"https://t.example/c/1\">a</a>");
  CHECK(out.text == "https://t.example/c/2");
}

TEST_CASE("link_rewriter: open pixel before the last </body>, or at the end") {
  const std::string img =
      "<img src=\"https://t.example/o/x?a=1&amp;b=2\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">";
  CHECK(add_open_pixel("<html><body><p>Hi</p></BODY></html>", "https://t.example/o/x?a=1&b=2") ==
        "<html><body><p>Hi</p>" + img + "</BODY></html>");
  CHECK(add_open_pixel("<p>fragment</p>", "https://t.example/o/x?a=1&b=2") == "<p>fragment</p>" + img);
  CHECK(add_open_pixel("", "https://t.example/o/x?a=1&b=2") == img);
  CHECK(add_open_pixel("<p>&lt;/body&gt;</p></body>", "https://t.example/o/x?a=1&b=2") ==
        "<p>&lt;/body&gt;</p>" + img + "</body>");
}

TEST_CASE("link_rewriter: linear on hostile input") {
  UrlMapper map = [](std::string_view) { return std::string("https://t.example/c"); };
  std::string many_tags, many_urls, many_quotes;
  for (int i = 0; i < 200000; ++i) {
    many_tags += "<a href=\"https://a.example/\">";
    many_urls += "https://a.example/(((( ";
    many_quotes += "<a title=\"x\" ";
  }
  auto started = std::chrono::steady_clock::now();
  CHECK(rewrite_html_links(many_tags, map).links == 200000);
  CHECK(rewrite_text_links(many_urls, map).links == 200000);
  CHECK(rewrite_html_links(many_quotes, map).html == many_quotes);
  std::string unclosed(500000, '<');
  CHECK(rewrite_html_links(unclosed, map).html == unclosed);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  CHECK(ms < 5000);  // quadratic behaviour would take minutes here
}
