// TemplateSet: loading, placed errors, escaping, data conversion, partials, concurrent renders.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "daemon/render/template_set.hpp"
#include "daemon/render/template_source.hpp"
#include "tests/unit/render/render_test_support.hpp"

using campaignd::render::TemplateSet;
using campaignd::render::testing::TempDir;
using nlohmann::json;

namespace {

TemplateSet must_load(const TempDir& dir, const std::string& name, const std::string& subject) {
  auto set = TemplateSet::load(dir.path(), name, subject, "campaigns/t.yaml");
  REQUIRE_MESSAGE(set.has_value(), (set ? "" : set.error()));
  return std::move(*set);
}

std::string load_error(const TempDir& dir, const std::string& name, const std::string& subject = "Hi") {
  auto set = TemplateSet::load(dir.path(), name, subject, "campaigns/t.yaml");
  REQUIRE_FALSE(set.has_value());
  return set.error();
}

}  // namespace

TEST_CASE("template load: html and text parts, each rendered with its own escaping") {
  TempDir dir;
  dir.write("promo.html.mustache", "<p>Hello {{first_name}} from {{city}}</p>{{{raw}}}");
  dir.write("promo.txt.mustache", "Hello {{first_name}} from {{city}}");
  auto set = must_load(dir, "promo", "{{first_name}}, 20% off & more");
  CHECK(set.has_html());
  CHECK(set.has_text());
  CHECK(set.html_path() == dir.path() + "/promo.html.mustache");

  auto out = set.render(json{{"first_name", "Tom & \"Jerry\" <b>'x'</b>"}, {"city", "Köln"}, {"raw", "<hr>"}});
  REQUIRE(out.has_value());
  CHECK(*out->html == "<p>Hello Tom &amp; &quot;Jerry&quot; &lt;b&gt;&apos;x&apos;&lt;/b&gt; from Köln</p><hr>");
  CHECK(*out->text == "Hello Tom & \"Jerry\" <b>'x'</b> from Köln");
  CHECK(out->subject == "Tom & \"Jerry\" <b>'x'</b>, 20% off & more");
}

TEST_CASE("template load: a text-only or html-only template") {
  TempDir dir;
  dir.write("plain.txt.mustache", "Hi {{first_name}}");
  auto set = must_load(dir, "plain", "Hello");
  CHECK_FALSE(set.has_html());
  CHECK(set.has_text());
  auto out = set.render(json{{"first_name", "Ann"}});
  REQUIRE(out.has_value());
  CHECK_FALSE(out->html.has_value());
  CHECK(*out->text == "Hi Ann");

  dir.write("rich.html.mustache", "<b>{{x}}</b>");
  auto rich = must_load(dir, "rich", "s");
  CHECK(rich.has_html());
  CHECK_FALSE(rich.has_text());
}

TEST_CASE("template load: missing files name every path looked for") {
  TempDir dir;
  const std::string err = load_error(dir, "nothing-here");
  CHECK(err.starts_with("campaigns/t.yaml: "));
  CHECK(err.find(dir.path() + "/nothing-here.html.mustache") != std::string::npos);
  CHECK(err.find(dir.path() + "/nothing-here.txt.mustache") != std::string::npos);
}

TEST_CASE("template load: names cannot leave the templates folder") {
  TempDir root;
  root.write("secret.txt.mustache", "the secret");
  root.write("templates/ok.txt.mustache", "fine");
  const std::string templates = root.path() + "/templates";
  for (const char* name : {"../secret", "../etc/passwd", "/etc/passwd", "a/b", "..", ".hidden", "", "x\\..\\y",
                           "name\nwith newline", "sub/../ok"}) {
    CAPTURE(name);
    auto set = TemplateSet::load(templates, name, "s", "c.yaml");
    REQUIRE_FALSE(set.has_value());
    CHECK(set.error().find("invalid template name") != std::string::npos);
    CHECK(set.error().find('\n') == std::string::npos);
  }
  CHECK(TemplateSet::load(templates, "ok", "s", "c.yaml").has_value());
  CHECK(campaignd::render::is_valid_template_name("spring-sale.v2"));
  CHECK_FALSE(campaignd::render::is_valid_template_name("spring-sale."));
}

TEST_CASE("template load: syntax errors name file, line and column") {
  TempDir dir;
  SUBCASE("unclosed section") {
    dir.write("t.html.mustache", "<p>Hello</p>\n  {{#vip}}VIP only\n<p>bye</p>\n");
    const std::string err = load_error(dir, "t");
    CHECK(err.starts_with(dir.path() + "/t.html.mustache:2:3: "));
    CHECK(err.find("unclosed section \"vip\"") != std::string::npos);
  }
  SUBCASE("unclosed tag, column counted in characters") {
    dir.write("t.txt.mustache", "line one\nÄÖü {{first_name\n");
    const std::string err = load_error(dir, "t");
    CHECK(err.starts_with(dir.path() + "/t.txt.mustache:2:5: "));
    CHECK(err.find("unclosed tag") != std::string::npos);
  }
  SUBCASE("section closed that was never opened") {
    dir.write("t.txt.mustache", "a\nb\n{{/vip}}");
    CHECK(load_error(dir, "t").starts_with(dir.path() + "/t.txt.mustache:3:1: unopened section"));
  }
  SUBCASE("mismatched section end") {
    dir.write("t.txt.mustache", "{{#a}}x{{/b}}");
    CHECK(load_error(dir, "t").find("t.txt.mustache:1:1: unclosed section \"a\"") != std::string::npos);
  }
  SUBCASE("the text part is checked even when the html part is fine") {
    dir.write("t.html.mustache", "<p>ok</p>");
    dir.write("t.txt.mustache", "ok\n{{^x}}");
    CHECK(load_error(dir, "t").starts_with(dir.path() + "/t.txt.mustache:2:1: "));
  }
  SUBCASE("subject errors are prefixed with the origin") {
    dir.write("t.txt.mustache", "ok");
    const std::string err = load_error(dir, "t", "Hi {{#vip}}");
    CHECK(err.starts_with("campaigns/t.yaml: subject:1:4: unclosed section"));
  }
}

TEST_CASE("template render: numbers, booleans, null, lists and nested objects") {
  auto set = TemplateSet::from_strings(
      "{{n}} items", std::nullopt,
      "{{n}}|{{f}}|{{neg}}|{{big}}|{{u}}|{{third}}|{{zero}}|{{whole}}\n"
      "{{#vip}}VIP{{/vip}}{{^vip}}regular{{/vip}}|{{#gone}}X{{/gone}}{{^gone}}none{{/gone}}\n"
      "{{#items}}[{{name}}:{{price}}]{{/items}}|{{address.city}}|{{#address}}{{zip}}{{/address}}\n"
      "{{#tags}}<{{.}}>{{/tags}}{{missing}}",
      "test");
  REQUIRE(set.has_value());
  json ctx = {{"n", 3},
              {"f", 2.5},
              {"neg", -7},
              {"big", 1e21},
              {"u", 18446744073709551615ULL},
              {"third", 1.0 / 3.0},
              {"zero", 0},
              {"whole", 42.0},
              {"vip", false},
              {"gone", nullptr},
              {"items", json::array({{{"name", "a"}, {"price", 1.5}}, {{"name", "b"}, {"price", 10}}})},
              {"address", {{"city", "Oslo"}, {"zip", "0150"}}},
              {"tags", json::array({"x", "y"})}};
  auto out = set->render(ctx);
  REQUIRE(out.has_value());
  CHECK(out->subject == "3 items");
  CHECK(*out->text ==
        "3|2.5|-7|1e+21|18446744073709551615|0.3333333333333333|0|42\n"
        "regular|none\n"
        "[a:1.5][b:10]|Oslo|0150\n"
        "<x><y>");
  ctx["vip"] = true;
  CHECK(set->render(ctx)->text->find("\nVIP|") != std::string::npos);
  CHECK_FALSE(set->render(json::array({1, 2})).has_value());
}

TEST_CASE("template render: contact values are never interpreted as template text") {
  auto set = TemplateSet::from_strings("{{first_name}}", std::string("<p>{{first_name}}</p>"),
                                       std::string("{{first_name}}"), "test");
  REQUIRE(set.has_value());
  auto out = set->render(json{{"first_name", "{{secret}} {{> partial}}"}, {"secret", "LEAK"}});
  REQUIRE(out.has_value());
  CHECK(*out->text == "{{secret}} {{> partial}}");
  CHECK(out->subject == "{{secret}} {{> partial}}");
}

TEST_CASE("template render: the subject is one line whatever the data holds") {
  auto set = TemplateSet::from_strings("  Hi {{first_name}}!  ", std::nullopt, std::string("x"), "test");
  REQUIRE(set.has_value());
  auto out = set->render(json{{"first_name", "Bob\r\nBcc: victim@x.com"}});
  REQUIRE(out.has_value());
  CHECK(out->subject == "Hi Bob  Bcc: victim@x.com!");
}

TEST_CASE("template partials: spliced from templates/partials at load time") {
  TempDir dir;
  dir.write("partials/footer.mustache", "-- \n{{> legal}}Unsubscribe: {{unsubscribe_url}}\n");
  dir.write("partials/legal.mustache", "Acme Inc, {{city}}\n");
  dir.write("mail.txt.mustache", "Hi {{first_name}}\n  {{> footer}}\nEnd");
  dir.write("mail.html.mustache", "<p>Hi</p>{{> footer}}");
  auto set = must_load(dir, "mail", "s");
  auto out = set.render(json{{"first_name", "Ann"}, {"city", "Oslo"}, {"unsubscribe_url", "https://u/x?a=1&b=2"}});
  REQUIRE(out.has_value());
  // A standalone partial tag is replaced by the partial, every line indented like the tag.
  CHECK(*out->text == "Hi Ann\n  -- \n  Acme Inc, Oslo\n  Unsubscribe: https://u/x?a=1&b=2\nEnd");
  CHECK(*out->html == "<p>Hi</p>-- \nAcme Inc, Oslo\nUnsubscribe: https://u/x?a=1&amp;b=2\n");
  CHECK(set.every_body_references("unsubscribe_url"));
  CHECK(set.every_body_references("city"));
  CHECK_FALSE(set.every_body_references("first_name"));  // the html part never uses it
}

TEST_CASE("template partials: delimiters do not leak in or out of a partial") {
  TempDir dir;
  dir.write("partials/odd.mustache", "{{=<% %>=}}<%name%>");
  dir.write("partials/plain.mustache", "{{name}}");
  dir.write("t.txt.mustache", "{{> odd}}/{{name}}/{{=[ ]=}}[> plain]/[name]");
  auto set = must_load(dir, "t", "s");
  auto out = set.render(json{{"name", "N"}});
  REQUIRE(out.has_value());
  CHECK(*out->text == "N/N/N/N");
}

TEST_CASE("template partials: errors") {
  TempDir dir;
  SUBCASE("missing partial") {
    dir.write("t.txt.mustache", "ok\n  {{> footer}}");
    const std::string err = load_error(dir, "t");
    CHECK(err.starts_with(dir.path() + "/t.txt.mustache:2:3: partial \"footer\" not found"));
    CHECK(err.find(dir.path() + "/partials/footer.mustache") != std::string::npos);
  }
  SUBCASE("a partial name is never looked up in the render data") {
    dir.write("t.txt.mustache", "{{> first_name}}");
    CHECK(load_error(dir, "t").find("partial \"first_name\" not found") != std::string::npos);
  }
  SUBCASE("path in a partial name") {
    dir.write("secret.mustache", "secret");
    dir.write("t.txt.mustache", "{{> ../secret}}");
    CHECK(load_error(dir, "t").find("invalid partial name \"../secret\"") != std::string::npos);
  }
  SUBCASE("syntax error inside a partial names the partial") {
    dir.write("partials/bad.mustache", "x\n{{#open}}");
    dir.write("t.txt.mustache", "{{> bad}}");
    CHECK(load_error(dir, "t").starts_with(dir.path() + "/partials/bad.mustache:2:1: unclosed section"));
  }
  SUBCASE("a partial that includes itself") {
    dir.write("partials/a.mustache", "{{> b}}");
    dir.write("partials/b.mustache", "{{> a}}");
    dir.write("t.txt.mustache", "{{> a}}");
    CHECK(load_error(dir, "t").find("partial \"a\" includes itself") != std::string::npos);
  }
  SUBCASE("no partials in a subject") {
    dir.write("partials/p.mustache", "x");
    dir.write("t.txt.mustache", "ok");
    CHECK(load_error(dir, "t", "{{> p}}").find("partials are not allowed here") != std::string::npos);
  }
}

TEST_CASE("template render: concurrent renders on one set") {
  std::string html = "<html><body>";
  for (int i = 0; i < 20; ++i) html += "<p>Para {{n}} for {{first_name}}{{#vip}}, VIP{{/vip}}.</p>\n";
  html += "</body></html>";
  auto set = TemplateSet::from_strings("Hi {{first_name}}", html, std::string("{{first_name}}:{{n}}"), "test");
  REQUIRE(set.has_value());
  constexpr int kThreads = 4, kRenders = 300;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRenders; ++i) {
        const std::string name = "u" + std::to_string(t) + "_" + std::to_string(i);
        auto out = set->render(json{{"first_name", name}, {"n", i}, {"vip", i % 2 == 0}});
        const bool ok = out && out->subject == "Hi " + name && *out->text == name + ":" + std::to_string(i) &&
                        out->html->find("Para " + std::to_string(i) + " for " + name + (i % 2 == 0 ? ", VIP." : ".")) !=
                            std::string::npos;
        if (!ok) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) CHECK(failures[t] == 0);
}

TEST_CASE("shipped marketing templates load, render and show an unsubscribe link") {
  const std::string templates = (campaignd::render::testing::source_dir() / "templates").string();
  for (const char* name : {"spring-sale", "newsletter"}) {
    CAPTURE(name);
    auto set = TemplateSet::load(templates, name, "{{first_name}}, news", "test");
    REQUIRE_MESSAGE(set.has_value(), (set ? "" : set.error()));
    CHECK(set->has_html());
    CHECK(set->has_text());
    CHECK(set->every_body_references("unsubscribe_url"));
    CHECK(set->every_body_references("first_name"));
    auto out = set->render(json{{"first_name", "Ana"},
                                {"city", "Porto"},
                                {"vip", true},
                                {"unsubscribe_url", "https://news.example/u/TOKEN?x=1&y=2"}});
    REQUIRE(out.has_value());
    CHECK(out->html->find("https://news.example/u/TOKEN?x=1&amp;y=2") != std::string::npos);
    CHECK(out->text->find("https://news.example/u/TOKEN?x=1&y=2") != std::string::npos);
    CHECK(out->html->find("Ana") != std::string::npos);
    CHECK(out->html->find("{{") == std::string::npos);
    CHECK(out->text->find("{{") == std::string::npos);
  }
}

TEST_CASE("template load: random malformed templates give an error or a working template, never a crash") {
  const std::string pieces[] = {"{{", "}}", "{{{", "}}}", "#a", "/a", "^a", "> p", "=", "=<% %>=", "<%", "%>",
                                "a", "&", "!", "\n", " ", "\r\n", ".", "{{=<% %>=}}", "{{#a}}", "{{/a}}", "ü"};
  TempDir dir;
  dir.write("partials/p.mustache", "[{{a}}]");
  unsigned seed = 12345;
  auto next = [&seed] { return (seed = seed * 1103515245u + 12345u) >> 16; };
  int loaded = 0;
  for (int round = 0; round < 3000; ++round) {
    std::string text;
    const unsigned n = next() % 12;
    for (unsigned i = 0; i < n; ++i) text += pieces[next() % std::size(pieces)];
    dir.write("r.txt.mustache", text);
    auto set = TemplateSet::load(dir.path(), "r", "s", "t");
    if (!set) {
      CHECK_MESSAGE(set.error().starts_with(dir.path() + "/"), text, " -> ", set.error());
      continue;
    }
    ++loaded;
    auto out = set->render(json{{"a", json::array({1, 2})}});
    CHECK_MESSAGE(out.has_value(), text);
  }
  CHECK(loaded > 100);
}
