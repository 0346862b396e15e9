// The campaign report on data whose every figure is known: funnel, rates, variants, domains,
// links, cost per response, new customers, hourly; its CSV and table; automation steps.
#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/analytics/campaign_report.hpp"
#include "daemon/analytics/report_format.hpp"
#include "tests/unit/analytics/analytics_fixture.hpp"

using namespace campaignd;
using namespace campaignd::analytics;
using namespace campaignd::analytics::testing;

namespace {

constexpr util::UnixTime H = kNow - kNow % 3600;
const std::string kUrl1 = "https://shop.example/sale";
const std::string kUrl2 = "https://shop.example/a?x=1,\"y\"";  // a comma and a quote, for the CSV

std::string click_data(const std::string& url) { return nlohmann::json{{"url", url}}.dump(); }

// Campaign "spring" (cost 60) to a, b, f @x.com, c, d @y.org, e @z.net; f's send failed.
// Variant A: a b c; B: d e. See each CHECK for what the events say.
struct Spring {
  Db d;
  std::int64_t campaign = 0;
  std::int64_t a = 0, b = 0, c = 0, dd = 0, e = 0, f = 0;

  Spring() {
    campaign = d.campaign("spring", R"({"name":"spring","cost":60})", 6);
    a = d.contact("a@x.com");
    b = d.contact("b@x.com");
    c = d.contact("c@y.org");
    dd = d.contact("d@y.org");
    e = d.contact("e@z.net");
    f = d.contact("f@x.com");
    auto sa = send(a, "sent", "A"), sb = send(b, "sent", "A"), sc = send(c, "sent", "A");
    auto sd = send(dd, "sent", "B"), se = send(e, "sent", "B");
    send(f, "failed", nullptr);
    for (auto [who, s] : {std::pair{a, sa}, {b, sb}, {c, sc}, {dd, sd}}) ev("delivered", who, s, H + 5);
    ev("bounced", e, se, H + 50);
    ev("opened", a, sa, H + 10);
    ev("opened", a, sa, H + 4000);  // again, the next hour
    ev("opened", b, sb, H + 20);
    ev("opened", c, sc, H + 30);
    ev("opened", dd, sd, H + 40, 1);  // a scanner
    ev("clicked", dd, sd, H + 45, 1, click_data(kUrl1));
    ev("clicked", a, sa, H + 100, 0, click_data(kUrl1));
    ev("clicked", a, sa, H + 110, 0, click_data(kUrl1));
    ev("clicked", c, sc, H + 150, 0, click_data(kUrl1));
    ev("clicked", a, sa, H + 200, 0, click_data(kUrl2));
    ev("replied", b, sb, H + 500);
    ev("unsubscribed", dd, sd, H + 600);
    ev("complained", c, sc, H + 700);
    // a bought before (not a new customer); c's first purchase ever is this campaign's conversion.
    d.event({"purchase", a, {}, {}, H - 100 * kDay, 5.0});
    d.event({"purchase", a, {}, {}, H + 300, 40.0});
    d.event({"converted", a, campaign, sa, H + 300, 40.0});
    d.event({"purchase", c, {}, {}, H + 400, 20.0});
    d.event({"converted", c, campaign, sc, H + 400, 20.0});
  }

  std::int64_t send(std::int64_t who, const std::string& state, const char* variant) {
    auto id = d.send(campaign, who, state);
    auto stmt = d.db.prepare("UPDATE sends SET variant = ? WHERE id = ?");
    REQUIRE(stmt);
    if (variant) stmt->bind(1, variant);
    else stmt->bind(1, nullptr);  // PostgreSQL wants every parameter bound
    REQUIRE(stmt->bind(2, id).run());
    return id;
  }
  void ev(const std::string& kind, std::int64_t who, std::int64_t s, util::UnixTime at, int machine = 0,
          const std::string& data = "{}") {
    d.event({kind, who, campaign, s, at, {}, machine, {}, data});
  }
};

const Slice& slice(const std::vector<Slice>& slices, const std::string& key) {
  for (const auto& s : slices)
    if (s.key == key) return s;
  FAIL("no slice " << key);
  return slices.front();
}

}  // namespace

TEST_CASE("report: the overall funnel, cost per response and new customers") {
  Spring s;
  auto r = campaign_report(s.d.db, "spring");
  REQUIRE(r);
  const Funnel& f = r->overall;
  CHECK(f.name == "spring");
  CHECK(f.recipients == 6);
  CHECK(f.sent == 5);
  CHECK(f.failed == 1);
  CHECK(f.delivered == 4);
  CHECK(f.bounced == 1);
  CHECK(f.opened == 3);  // a, b, c; d's open was a scanner's
  CHECK(f.clicked == 2);  // a, c
  CHECK(f.replied == 1);
  CHECK(f.unsubscribed == 1);
  CHECK(f.complained == 1);
  CHECK(f.conversions == 2);
  CHECK(f.revenue == doctest::Approx(60));
  CHECK(f.open_rate == doctest::Approx(3.0 / 4));
  CHECK(f.click_rate == doctest::Approx(2.0 / 4));
  CHECK(f.click_to_open_rate == doctest::Approx(2.0 / 3));
  CHECK(f.reply_rate == doctest::Approx(1.0 / 4));
  CHECK(f.unsubscribe_rate == doctest::Approx(1.0 / 4));
  CHECK(f.complaint_rate == doctest::Approx(1.0 / 4));
  CHECK(f.bounce_rate == doctest::Approx(1.0 / 5));
  CHECK(r->cost == 60);
  CHECK(r->responses == 3);  // a (clicked, converted), b (replied), c (clicked, converted)
  CHECK(r->cost_per_response == doctest::Approx(20));
  CHECK(r->new_customers == 1);  // c; a had bought 100 days before

  auto j = to_json(*r);
  for (const char* key : {"name", "recipients", "sent", "delivered", "bounced", "opened", "clicked", "replied",
                          "unsubscribed", "complained", "conversions", "revenue", "open_rate", "click_rate",
                          "reply_rate", "bounce_rate", "unsubscribe_rate", "complaint_rate", "click_to_open_rate",
                          "cost", "cost_per_response", "responses", "new_customers", "variants", "domains", "links",
                          "hourly"})
    CHECK_MESSAGE(j.contains(key), key);
  CHECK(j["cost_per_response"] == 20.0);

  // The funnel alone agrees with the report's.
  auto alone = campaign_funnel(s.d.db, "spring");
  REQUIRE(alone);
  CHECK(to_json(*alone) == to_json(f));
  CHECK_FALSE(campaign_report(s.d.db, "nope"));
}

TEST_CASE("report: per variant and per recipient domain") {
  Spring s;
  auto r = campaign_report(s.d.db, "spring");
  REQUIRE(r);
  REQUIRE(r->variants.size() == 3);
  const Funnel& va = slice(r->variants, "A").funnel;
  CHECK(va.recipients == 3);
  CHECK(va.sent == 3);
  CHECK(va.delivered == 3);
  CHECK(va.opened == 3);
  CHECK(va.clicked == 2);
  CHECK(va.replied == 1);
  CHECK(va.complained == 1);
  CHECK(va.conversions == 2);
  CHECK(va.revenue == doctest::Approx(60));
  CHECK(va.open_rate == doctest::Approx(1.0));
  const Funnel& vb = slice(r->variants, "B").funnel;
  CHECK(vb.sent == 2);
  CHECK(vb.delivered == 1);
  CHECK(vb.bounced == 1);
  CHECK(vb.opened == 0);
  CHECK(vb.unsubscribed == 1);
  CHECK(vb.bounce_rate == doctest::Approx(0.5));
  CHECK(slice(r->variants, "(none)").funnel.failed == 1);

  REQUIRE(r->domains.size() == 3);
  CHECK(r->domains[0].key == "x.com");  // most recipients first
  const Funnel& x = r->domains[0].funnel;
  CHECK(x.recipients == 3);
  CHECK(x.sent == 2);
  CHECK(x.failed == 1);
  CHECK(x.delivered == 2);
  CHECK(x.opened == 2);
  CHECK(x.clicked == 1);
  CHECK(x.replied == 1);
  CHECK(x.conversions == 1);
  CHECK(x.revenue == doctest::Approx(40));
  CHECK(x.click_rate == doctest::Approx(0.5));
  const Funnel& y = slice(r->domains, "y.org").funnel;
  CHECK(y.delivered == 2);
  CHECK(y.opened == 1);
  CHECK(y.unsubscribed == 1);
  CHECK(y.complained == 1);
  CHECK(y.revenue == doctest::Approx(20));
  const Funnel& z = slice(r->domains, "z.net").funnel;
  CHECK(z.sent == 1);
  CHECK(z.bounced == 1);
  CHECK(z.bounce_rate == doctest::Approx(1.0));

  // A forgotten contact's send stays, under "(forgotten)"; its events are gone.
  REQUIRE(s.d.db.exec("DELETE FROM contacts WHERE id = " + std::to_string(s.e)));
  auto after = campaign_report(s.d.db, "spring");
  REQUIRE(after);
  CHECK(slice(after->domains, "(forgotten)").funnel.sent == 1);
  CHECK(slice(after->domains, "(forgotten)").funnel.bounced == 0);
  CHECK(after->overall.bounced == 0);
}

TEST_CASE("report: per link, clicks and the conversions their last click earned") {
  Spring s;
  auto r = campaign_report(s.d.db, "spring");
  REQUIRE(r);
  REQUIRE(r->links.size() == 2);
  const LinkStats& l1 = r->links[0];
  CHECK(l1.url == kUrl1);
  CHECK(l1.clickers == 2);
  CHECK(l1.clicks == 3);  // the scanner's click not counted
  CHECK(l1.click_rate == doctest::Approx(0.5));
  CHECK(l1.share_of_clickers == doctest::Approx(1.0));
  CHECK(l1.conversions == 1);  // c
  CHECK(l1.revenue == doctest::Approx(20));
  const LinkStats& l2 = r->links[1];
  CHECK(l2.url == kUrl2);
  CHECK(l2.clickers == 1);
  CHECK(l2.conversions == 1);  // a's last click before buying
  CHECK(l2.revenue == doctest::Approx(40));

  // A conversion whose send has no click before it is listed under "(unknown)".
  auto sb = s.d.scalar("SELECT id FROM sends WHERE contact_id = " + std::to_string(s.b));
  s.d.event({"converted", s.b, s.campaign, sb, H + 900, 7.0});
  auto again = campaign_report(s.d.db, "spring");
  REQUIRE(again);
  REQUIRE(again->links.size() == 3);
  CHECK(again->links[2].url == "(unknown)");
  CHECK(again->links[2].clickers == 0);
  CHECK(again->links[2].conversions == 1);
  CHECK(again->links[2].revenue == doctest::Approx(7));
}

TEST_CASE("report: responses hour by hour") {
  Spring s;
  auto r = campaign_report(s.d.db, "spring");
  REQUIRE(r);
  REQUIRE(r->hourly.size() == 2);
  const HourPoint& h0 = r->hourly[0];
  CHECK(h0.hour == H);
  CHECK(h0.events.at("opened") == 3);
  CHECK(h0.contacts.at("opened") == 3);
  CHECK(h0.events.at("clicked") == 4);
  CHECK(h0.contacts.at("clicked") == 2);
  CHECK(h0.events.at("converted") == 2);
  CHECK(h0.events.at("replied") == 1);
  CHECK(h0.events.at("unsubscribed") == 1);
  CHECK(h0.events.count("delivered") == 0);
  const HourPoint& h1 = r->hourly[1];
  CHECK(h1.hour == H + 3600);
  CHECK(h1.events.at("opened") == 1);
  CHECK(h1.contacts.at("opened") == 0);  // a had opened already
  auto j = to_json(*r);
  CHECK(j["hourly"][0]["opened"] == 3);
  CHECK(j["hourly"][0]["first_clicked"] == 2);
  CHECK(j["hourly"][1]["time"] == util::format_iso8601(H + 3600));
}

TEST_CASE("report: no cost, no variants, no responses") {
  Db d;
  d.campaign("quiet", "{}", 1);
  auto id = d.scalar("SELECT id FROM campaigns WHERE name = 'quiet'");
  d.send(id, d.contact("q@example.com"), "sent");
  auto r = campaign_report(d.db, "quiet");
  REQUIRE(r);
  CHECK_FALSE(r->cost);
  CHECK_FALSE(r->cost_per_response);
  CHECK(r->variants.empty());
  CHECK(r->links.empty());
  CHECK(r->hourly.empty());
  CHECK(r->overall.open_rate == 0);
  auto j = to_json(*r);
  CHECK(j["cost"].is_null());
  CHECK(j["cost_per_response"].is_null());
  // A cost with no response has no cost per response; malformed definitions are no cost.
  REQUIRE(d.db.exec("UPDATE campaigns SET definition = '{\"cost\": 12.5}' WHERE name = 'quiet'"));
  auto costed = campaign_report(d.db, "quiet");
  REQUIRE(costed);
  CHECK(costed->cost == 12.5);
  CHECK_FALSE(costed->cost_per_response);
  // PostgreSQL's definition is jsonb, always valid: JSON that is not an object stands in there.
  REQUIRE(d.db.exec(std::string("UPDATE campaigns SET definition = ") + std::string(d.db.sql("'not json'", "'\"not json\"'")) +
                    " WHERE name = 'quiet'"));
  auto broken = campaign_report(d.db, "quiet");
  REQUIRE(broken);
  CHECK_FALSE(broken->cost);
  REQUIRE(d.db.exec("UPDATE campaigns SET definition = '{\"cost\": \"a lot\"}' WHERE name = 'quiet'"));
  auto text_cost = campaign_report(d.db, "quiet");
  REQUIRE(text_cost);
  CHECK_FALSE(text_cost->cost);
}

TEST_CASE("report: more than kMaxDomains domains end in one (other) row that adds up") {
  Db d;
  auto c = d.campaign("wide", "{}", 30);
  for (int i = 0; i < 30; ++i) {
    auto who = d.contact("p@d" + std::to_string(i) + ".example");
    auto s = d.send(c, who, "sent");
    d.event({"opened", who, c, s, kNow});
  }
  auto r = campaign_report(d.db, "wide");
  REQUIRE(r);
  REQUIRE(r->domains.size() == kMaxDomains + 1);
  CHECK(r->domains.back().key == "(other)");
  CHECK(r->domains.back().funnel.sent == 10);
  CHECK(r->domains.back().funnel.opened == 10);
  CHECK(r->domains.back().funnel.open_rate == doctest::Approx(1.0));
}

TEST_CASE("report: CSV keeps the scalar line first and adds named sections") {
  Spring s;
  auto r = campaign_report(s.d.db, "spring");
  REQUIRE(r);
  std::string csv = campaign_report_csv(to_json(*r));
  std::istringstream in(csv);
  std::string header, values;
  std::getline(in, header);
  std::getline(in, values);
  // Scalar figures: header and values line up column by column (no text field holds a comma).
  auto columns = [](const std::string& line) {
    std::vector<std::string> out(1);
    for (char ch : line) {
      if (ch == ',') out.emplace_back();
      else out.back() += ch;
    }
    return out;
  };
  auto names = columns(header), cells = columns(values);
  REQUIRE(names.size() == cells.size());
  std::map<std::string, std::string> row;
  for (size_t i = 0; i < names.size(); ++i) row[names[i]] = cells[i];
  CHECK(row["name"] == "\"spring\"");
  CHECK(row["sent"] == "5");
  CHECK(row["opened"] == "3");
  CHECK(row["cost_per_response"] == "20.0");
  CHECK(row["new_customers"] == "1");
  CHECK(row.count("variants") == 0);  // arrays are sections, not columns
  CHECK(row.count("hourly") == 0);
  CHECK(csv.find("\nsection,variant,recipients,sent,") != std::string::npos);
  CHECK(csv.find("\nvariants,\"A\",3,3,3,") != std::string::npos);
  CHECK(csv.find("\nsection,domain,") != std::string::npos);
  CHECK(csv.find("\ndomains,\"x.com\",3,2,2,") != std::string::npos);
  CHECK(csv.find("\nsection,url,clickers,clicks,") != std::string::npos);
  CHECK(csv.find("\nlinks,\"https://shop.example/a?x=1,\"\"y\"\"\",1,1,") != std::string::npos);
  CHECK(csv.find("\nsection,hour,time,opened,first_opened,") != std::string::npos);
  CHECK(csv.find("\nhourly," + std::to_string(H) + ",") != std::string::npos);
  CHECK(csv_field(nullptr) == "");
  CHECK(csv_field("a\"b") == "\"a\"\"b\"");
  CHECK(csv_field(2.5) == "2.5");

  std::string table = campaign_report_table(to_json(*r));
  CHECK(table.starts_with("campaign spring (done)\n"));
  CHECK(table.find("cost/response       20.00") != std::string::npos);
  CHECK(table.find("new customers           1") != std::string::npos);
  CHECK(table.find("by variant") != std::string::npos);
  CHECK(table.find("by recipient domain") != std::string::npos);
  CHECK(table.find(kUrl1) != std::string::npos);
  CHECK(table.find("hour by hour") != std::string::npos);
}

TEST_CASE("report: an automation's steps each get a funnel") {
  Db d;
  auto s1 = d.campaign("welcome#1", "{}", 2);
  auto s2 = d.campaign("welcome#2", "{}", 1);
  d.campaign("welcome#4", "{}", 1);  // after a gap: not a step of this run of numbers
  auto a = d.contact("a@example.com");
  auto b = d.contact("b@example.com");
  auto x1 = d.send(s1, a, "sent");
  d.send(s1, b, "sent");
  auto x2 = d.send(s2, a, "sent");
  d.event({"opened", a, s1, x1, kNow});
  d.event({"clicked", a, s2, x2, kNow});
  auto steps = automation_step_funnels(d.db, "welcome");
  REQUIRE(steps);
  REQUIRE(steps->size() == 2);
  CHECK((*steps)[0].name == "welcome#1");
  CHECK((*steps)[0].sent == 2);
  CHECK((*steps)[0].opened == 1);
  CHECK((*steps)[0].open_rate == doctest::Approx(0.5));
  CHECK((*steps)[1].clicked == 1);
  auto none = automation_step_funnels(d.db, "nothing");
  REQUIRE(none);
  CHECK(none->empty());

  nlohmann::json report = {{"name", "welcome"}, {"trigger", "subscribed"}, {"enrolled", 2}, {"steps", nlohmann::json::array()}};
  for (const auto& f : *steps) {
    auto j = to_json(f);
    j["campaign"] = f.name;
    j["step"] = report["steps"].size() + 1;
    report["steps"].push_back(j);
  }
  std::string csv = automation_report_csv(report);
  CHECK(csv.starts_with("automation,step,campaign,queued,failed,skipped,recipients,sent,"));
  CHECK(csv.find("\n\"welcome\",1,\"welcome#1\",0,0,0,2,2,") != std::string::npos);
  std::string table = automation_report_table(report);
  CHECK(table.find("automation welcome (trigger subscribed)") != std::string::npos);
  CHECK(table.find("welcome#2") != std::string::npos);
}
