// app/status_page and app/status_chart: the admin's HTML status page with its SVG charts.
// Checks that every campaign is shown, that hostile names are escaped in the HTML and in the
// SVG, and that each chart is well-formed XML.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <regex>
#include <string>
#include <vector>

#include "daemon/app/status_chart.hpp"
#include "daemon/app/status_page.hpp"
#include "daemon/app/status_report.hpp"
#include "daemon/store/campaigns.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

namespace {

constexpr util::UnixTime kT0 = 1'790'000'000 / 3600 * 3600;
const std::string kHostile = "<script>alert(\"x\")</script> & 'quotes' </svg><b>";

// A small well-formedness check for the XML we generate: balanced tags, quoted attributes,
// `&` only in entities, no stray `<` in text or attribute values. Returns "" when well-formed.
std::string xml_problem(const std::string& s) {
  static const std::regex entity(R"(^&(amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)");
  std::vector<std::string> open;
  auto name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == ':' || c == '_'; };
  auto check_amp = [&](std::size_t i) {
    std::smatch m;
    std::string rest = s.substr(i, 12);
    return std::regex_search(rest, m, entity);
  };
  std::size_t i = 0;
  bool seen_root = false;
  while (i < s.size()) {
    char c = s[i];
    if (c == '&') {
      if (!check_amp(i)) return "bad entity at " + std::to_string(i);
      ++i;
    } else if (c == '>') {
      return "stray '>' in text at " + std::to_string(i);
    } else if (c != '<') {
      if (open.empty() && !std::isspace(static_cast<unsigned char>(c))) return "text outside the root at " + std::to_string(i);
      ++i;
    } else if (i + 1 < s.size() && s[i + 1] == '/') {
      std::size_t j = i + 2;
      while (j < s.size() && name_char(s[j])) ++j;
      std::string name = s.substr(i + 2, j - i - 2);
      if (j >= s.size() || s[j] != '>') return "bad end tag at " + std::to_string(i);
      if (open.empty() || open.back() != name) return "unbalanced </" + name + "> at " + std::to_string(i);
      open.pop_back();
      i = j + 1;
    } else {
      if (open.empty() && seen_root) return "second root element at " + std::to_string(i);
      seen_root = true;
      std::size_t j = i + 1;
      while (j < s.size() && name_char(s[j])) ++j;
      std::string name = s.substr(i + 1, j - i - 1);
      if (name.empty()) return "bad start tag at " + std::to_string(i);
      while (true) {
        while (j < s.size() && std::isspace(static_cast<unsigned char>(s[j]))) ++j;
        if (j >= s.size()) return "unterminated tag <" + name;
        if (s[j] == '>') {
          open.push_back(name);
          ++j;
          break;
        }
        if (s.compare(j, 2, "/>") == 0) {
          j += 2;
          break;
        }
        std::size_t k = j;
        while (k < s.size() && name_char(s[k])) ++k;
        if (k == j || k + 1 >= s.size() || s[k] != '=' || s[k + 1] != '"') return "bad attribute in <" + name + ">";
        std::size_t end = s.find('"', k + 2);
        if (end == std::string::npos) return "unterminated attribute in <" + name + ">";
        for (std::size_t a = k + 2; a < end; ++a) {
          if (s[a] == '<') return "'<' in an attribute of <" + name + ">";
          if (s[a] == '&' && !check_amp(a)) return "bad entity in an attribute of <" + name + ">";
        }
        j = end + 1;
      }
      i = j;
    }
  }
  if (!open.empty()) return "unclosed <" + open.back() + ">";
  if (!seen_root) return "no element";
  return "";
}

std::vector<std::string> svgs_in(const std::string& html) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while ((pos = html.find("<svg", pos)) != std::string::npos) {
    std::size_t end = html.find("</svg>", pos);
    REQUIRE(end != std::string::npos);
    out.push_back(html.substr(pos, end + 6 - pos));
    pos = end + 6;
  }
  return out;
}

struct PageFixture {
  testing::TempFolder tmp;
  store::Database db = testing::open_migrated(tmp.file("page.db"));
  int next_contact = 0;

  std::int64_t campaign(const std::string& name, std::int64_t recipients) {
    store::CampaignRepository repo(db);
    auto row = repo.upsert(name, "campaigns/x.yaml", "{}", 1000, 1000);
    REQUIRE(row);
    REQUIRE(repo.mark_started(row->id, recipients, kT0));
    return row->id;
  }
  // A sent message to a new contact; returns the contact id.
  int sent(std::int64_t campaign_id) {
    ++next_contact;
    REQUIRE(db.exec("INSERT INTO contacts (id, email, created_at, updated_at) VALUES (" + std::to_string(next_contact) +
                    ", 'c" + std::to_string(next_contact) + "@x.example', 0, 0)"));
    REQUIRE(db.exec("INSERT INTO sends (campaign_id, contact_id, state) VALUES (" + std::to_string(campaign_id) + ", " +
                    std::to_string(next_contact) + ", 'sent')"));
    return next_contact;
  }
  void event(std::int64_t campaign_id, int contact, const std::string& kind, util::UnixTime at) {
    REQUIRE(db.exec("INSERT INTO events (kind, contact_id, campaign_id, at) VALUES ('" + kind + "', " +
                    std::to_string(contact) + ", " + std::to_string(campaign_id) + ", " + std::to_string(at) + ")"));
  }
  nlohmann::json status(const std::vector<PlacedError>& errors = {}) {
    app::LiveFigures live;
    live.uptime_s = 3725;
    live.send_rate = 12.5;
    auto doc = app::build_status(db, errors, live);
    REQUIRE_MESSAGE(doc, (doc ? "" : doc.error()));
    return *doc;
  }
};

std::string templates_dir() {
#ifdef CAMPAIGND_SOURCE_DIR
  return std::string(CAMPAIGND_SOURCE_DIR) + "/templates";
#else
  return "templates";
#endif
}

}  // namespace

TEST_CASE("the xml checker used below rejects what it should") {
  CHECK(xml_problem("<a><b x=\"1\"/>t &amp; u</a>") == "");
  CHECK(xml_problem("<a><b></a>") != "");
  CHECK(xml_problem("<a>x & y</a>") != "");
  CHECK(xml_problem("<a x=\"<\"/>") != "");
  CHECK(xml_problem("<a x=1/>") != "");
  CHECK(xml_problem("<a/><b/>") != "");
  CHECK(xml_problem("<a>") != "");
}

TEST_CASE("hourly_chart_svg draws two series with a legend, axes and hour labels") {
  std::vector<analytics::HourlyPoint> hours;
  for (int i = 0; i < 30; ++i) hours.push_back({kT0 + i * 3600, i % 7, i % 3});
  std::string svg = app::hourly_chart_svg(hours, "Opens and clicks: spring");
  CHECK(xml_problem(svg) == "");
  CHECK(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(svg.find("<title>Opens and clicks: spring</title>") != std::string::npos);
  std::smatch m;
  CHECK(std::regex_search(svg, m, std::regex(R"(opens \((\d+)\))")));
  CHECK(m[1] == "85");  // sum of i % 7 over 0..29
  CHECK(std::regex_search(svg, m, std::regex(R"(clicks \((\d+)\))")));
  CHECK(m[1] == "30");  // sum of i % 3
  // Two lines, one point per hour each.
  std::regex line(R"re(<polyline[^>]*points="([^"]*)")re");
  auto lines = std::sregex_iterator(svg.begin(), svg.end(), line);
  int count = 0;
  for (auto it = lines; it != std::sregex_iterator(); ++it, ++count) {
    std::string points = (*it)[1];
    CHECK(std::count(points.begin(), points.end(), ',') == 30);
  }
  CHECK(count == 2);
  // Hour labels: at most 8, HH:00 in UTC.
  std::regex label(R"(>(\d\d):00<)");
  auto labels = std::distance(std::sregex_iterator(svg.begin(), svg.end(), label), std::sregex_iterator());
  CHECK(labels >= 2);
  CHECK(labels <= 8);
  CHECK(svg.find("hour (UTC)") != std::string::npos);
}

TEST_CASE("chart_hours: from the start to now, at least 12 and at most 72 hours") {
  using app::StatusPage;
  constexpr util::UnixTime h = 3600;
  // Started 3 hours ago, no responses: 12 hours ending now.
  auto [a, b] = StatusPage::chart_hours({}, kT0, kT0 + 3 * h + 100);
  CHECK(b == kT0 + 3 * h);
  CHECK(a == b - 11 * h);
  // Started 30 hours ago: from the start to now.
  auto [c, d] = StatusPage::chart_hours({{kT0 + h, 1, 0}}, kT0 + 20, kT0 + 30 * h);
  CHECK(c == kT0);
  CHECK(d == kT0 + 30 * h);
  // Started 10 days ago: the 72 hours after the start, then...
  auto [e, f] = StatusPage::chart_hours({{kT0 + h, 1, 0}}, kT0, kT0 + 240 * h);
  CHECK(e == kT0);
  CHECK(f == kT0 + 71 * h);
  // ...or up to a late response, 72 hours at most.
  auto [g, i] = StatusPage::chart_hours({{kT0 + h, 1, 0}, {kT0 + 200 * h, 0, 1}}, kT0, kT0 + 240 * h);
  CHECK(i == kT0 + 200 * h);
  CHECK(g == i - 71 * h);
  // Not started (0): ending now.
  auto [j, k] = StatusPage::chart_hours({}, 0, kT0 + 5);
  CHECK(k == kT0);
  CHECK(j == kT0 - 11 * h);
}

TEST_CASE("hourly_chart_svg: empty and single-hour series, hostile titles") {
  std::string empty = app::hourly_chart_svg({}, "nothing");
  CHECK(xml_problem(empty) == "");
  CHECK(empty.find("no opens or clicks yet") != std::string::npos);
  CHECK(empty.find("<polyline") == std::string::npos);
  std::string zeros = app::hourly_chart_svg({{kT0, 0, 0}, {kT0 + 3600, 0, 0}}, "quiet");
  CHECK(xml_problem(zeros) == "");
  CHECK(zeros.find("no opens or clicks yet") != std::string::npos);
  CHECK(zeros.find("<polyline") == std::string::npos);
  CHECK(zeros.find(":00<") != std::string::npos);  // the hours are still labelled

  std::string one = app::hourly_chart_svg({{kT0, 3, 1}}, kHostile);
  CHECK(xml_problem(one) == "");
  CHECK(one.find("<script") == std::string::npos);
  CHECK(one.find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;quotes&#39; &lt;/svg&gt;") !=
        std::string::npos);
  CHECK(one.find("<circle") != std::string::npos);  // a single point is still visible

  CHECK(app::xml_escape("a\x01" "b\tc") == "ab\tc");  // control characters are not XML
}

TEST_CASE("the status page shows every campaign, its funnel and chart, and escapes names") {
  PageFixture f;
  auto spring = f.campaign("spring-sale", 3);
  auto hostile = f.campaign(kHostile, 2);
  int a = f.sent(spring), b = f.sent(spring);
  f.sent(spring);
  int c = f.sent(hostile);
  f.sent(hostile);
  f.event(spring, a, "opened", kT0 + 60);
  f.event(spring, b, "opened", kT0 + 2 * 3600 + 5);
  f.event(spring, a, "clicked", kT0 + 2 * 3600 + 50);
  f.event(hostile, c, "opened", kT0 + 10);

  auto page = app::StatusPage::create(templates_dir());
  REQUIRE_MESSAGE(page, (page ? "" : page.error()));
  std::vector<PlacedError> errors = {{{"campaigns/bad<1>.yaml", 3, 9}, "unknown key 'x' & more"}};
  auto html = page->render(f.db, f.status(errors), kT0 + 3 * 3600);
  REQUIRE_MESSAGE(html, (html ? "" : html.error()));

  CHECK(html->find("spring-sale") != std::string::npos);
  CHECK(html->find("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") != std::string::npos);
  CHECK(html->find("<script") == std::string::npos);
  CHECK(html->find("</svg><b>") == std::string::npos);
  CHECK(html->find("campaigns/bad&lt;1&gt;.yaml:3:9: unknown key &apos;x&apos; &amp; more") != std::string::npos);
  CHECK(html->find("1 h 02 min") != std::string::npos);  // uptime 3725 s
  CHECK(html->find("12.5") != std::string::npos);        // send rate

  auto svgs = svgs_in(*html);
  REQUIRE(svgs.size() == 2);
  for (const auto& svg : svgs) CHECK(xml_problem(svg) == "");
  CHECK(svgs[0].find("opens (2)") != std::string::npos);
  CHECK(svgs[0].find("clicks (1)") != std::string::npos);
  CHECK(svgs[1].find("opens (1)") != std::string::npos);

  // The funnel of spring-sale: 3 sent, 2 opened (66.7%), 1 clicked (33.3%).
  auto ctx = app::StatusPage::context(f.db, f.status(), kT0);
  REQUIRE(ctx);
  const auto& funnel = (*ctx)["campaigns"][0]["funnel"];
  CHECK((*ctx)["campaigns"][0]["name"] == "spring-sale");
  bool saw_opened = false;
  for (const auto& step : funnel) {
    if (step["label"] == "opened") {
      saw_opened = true;
      CHECK(step["count"] == 2);
      CHECK(step["rate"] == "66.7%");
    }
    if (step["label"] == "clicked") CHECK(step["rate"] == "33.3%");
  }
  CHECK(saw_opened);
}

TEST_CASE("the status page without a template file, with no campaigns, and its response headers") {
  PageFixture f;
  testing::TempFolder empty_templates;
  auto page = app::StatusPage::create(empty_templates.file(""));
  REQUIRE(page);
  auto html = page->render(f.db, f.status(), kT0);
  REQUIRE(html);
  CHECK(html->find("<h1>campaignd") != std::string::npos);

  f.campaign("only<one>", 0);
  auto response = page->respond(f.db, f.status(), kT0);
  CHECK(response.status == 200);
  CHECK(response.content_type.starts_with("text/html"));
  CHECK(response.body.find("only&lt;one&gt;") != std::string::npos);
  bool csp = false;
  for (const auto& [k, v] : response.headers)
    if (k == "Content-Security-Policy") csp = v.find("default-src 'none'") != std::string::npos;
  CHECK(csp);

  // A status document without campaigns (the database was unavailable) still renders.
  auto bare = page->render(f.db, nlohmann::json{{"error", "database unavailable"}}, kT0);
  REQUIRE(bare);
}

TEST_CASE("a status template that does not parse is an error at create()") {
  testing::TempFolder dir;
  dir.write("status.html.mustache", "<p>{{#campaigns}}unclosed</p>");
  auto page = app::StatusPage::create(dir.file(""));
  REQUIRE_FALSE(page);
  CHECK(page.error().find("status.html.mustache") != std::string::npos);
}
