// Open and click tracking end to end: tokens and their tampering, the pixel and the redirect
// against a real temporary store, machine flags, store failures, and the composer hook.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "daemon/delivery/message_composer.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/machine_detector.hpp"
#include "daemon/tracking/tracking_links.hpp"
#include "daemon/tracking/tracking_service.hpp"
#include "tests/unit/store/temp_database.hpp"
#include "tests/unit/tracking/json_sql.hpp"

using namespace campaignd;

namespace {

constexpr util::UnixTime kSentAt = 1'700'000'000;
constexpr const char* kFirefox = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0";

std::string token_in(const std::string& url, const std::string& marker) {
  auto at = url.find(marker);
  REQUIRE(at != std::string::npos);
  return url.substr(at + marker.size());
}

http::HttpRequest get(const std::string& token, const std::string& user_agent = kFirefox,
                      const std::string& method = "GET") {
  http::HttpRequest r;
  r.method = method;
  r.captures = {token};
  if (!user_agent.empty()) r.headers["user-agent"] = user_agent;
  return r;
}

std::unique_ptr<store::Store> open_store(const std::string& path) {
  auto s = store::Store::open(campaignd::testing::store_target(path));
  REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  return std::move(*s);
}

// A store holding one campaign, one contact and one send that went out at kSentAt.
struct Fixture {
  testing::TempFolder tmp;
  std::unique_ptr<store::Store> store = open_store(tmp.file("t.db"));
  util::ManualClock clock{kSentAt + 3600};
  tracking::TokenSigner signer{"0123456789abcdef-test-key"};
  tracking::TrackingLinks links{"https://news.example/", signer};
  tracking::EventRecorder recorder{*store, clock};
  tracking::MachineDetector detector{clock};
  tracking::TrackingService service{*store, recorder, links, detector, clock};
  std::int64_t send_id = 0;

  Fixture() {
    auto s = store->writer().run([&](const store::Database& db) -> Status {
      auto campaign = store::CampaignRepository(db).upsert("spring", "spring.yaml", "{}", kSentAt, kSentAt);
      if (!campaign) return std::unexpected(campaign.error());
      store::Contact c;
      c.email = "ann@example.com";
      c.updated_at = kSentAt;
      auto contact = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
      if (!contact) return std::unexpected(contact.error());
      store::SendRepository sends(db);
      if (auto q = sends.enqueue_one(campaign->id, *contact, kSentAt); !q) return q;
      auto claimed = sends.claim_due(kSentAt, 10);
      if (!claimed) return std::unexpected(claimed.error());
      if (claimed->size() != 1) return fail("expected one claimed send");
      send_id = claimed->front().id;
      return sends.mark_sent(send_id, "m1@news.example", 250, kSentAt);
    });
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  }

  store::Database reader() {
    auto db = store->open_reader();
    REQUIRE_MESSAGE(db, (db ? "" : db.error()));
    return std::move(*db);
  }
  long long count(const std::string& where = "true") {
    auto db = reader();
    return testing::query_int(db, "SELECT COUNT(*) FROM events WHERE " + where);
  }
  std::string last(const std::string& column) {
    auto db = reader();
    return testing::query_text(db, "SELECT " + column + " FROM events ORDER BY id DESC LIMIT 1");
  }
  std::string open_token() { return token_in(links.open_url(send_id), "/t/o/"); }
  std::string click_token(const std::string& url) { return token_in(links.click_url(send_id, url), "/t/c/"); }
};

std::string location_of(const http::HttpResponse& r) {
  for (const auto& [name, value] : r.headers)
    if (name == "Location") return value;
  return {};
}

std::string header_of(const http::HttpResponse& r, const std::string& wanted) {
  for (const auto& [name, value] : r.headers)
    if (name == wanted) return value;
  return {};
}

// Flips one character of a token (keeping it in the base64url alphabet).
std::string altered(std::string token, size_t at) {
  token[at] = token[at] == 'A' ? 'B' : 'A';
  return token;
}

}  // namespace

// ---- TrackingLinks ---------------------------------------------------------------------------

TEST_CASE("tracking_links: round trips") {
  tracking::TokenSigner signer("key-one");
  tracking::TrackingLinks links("https://news.example//", signer);
  std::string open = links.open_url(42);
  CHECK(open.starts_with("https://news.example/t/o/"));
  CHECK(links.open_send(token_in(open, "/t/o/")) == 42);

  const std::string url = "https://shop.example/p/1?a=1&b=x:y&c=%20#frag:ment";
  std::string click = links.click_url(42, url);
  CHECK(click.starts_with("https://news.example/t/c/"));
  auto target = links.click_target(token_in(click, "/t/c/"));
  REQUIRE(target);
  CHECK(target->first == 42);
  CHECK(target->second == url);
  CHECK(links.click_target(token_in(links.click_url(0, "HTTP://UPPER.example"), "/t/c/"))->second ==
        "HTTP://UPPER.example");
}

TEST_CASE("tracking_links: what gets no click URL") {
  tracking::TokenSigner signer("key-one");
  tracking::TrackingLinks links("https://news.example", signer);
  CHECK(links.click_url(1, "mailto:a@example.com").empty());
  CHECK(links.click_url(1, "javascript:alert(1)").empty());
  CHECK(links.click_url(1, "https://").empty());
  CHECK(links.click_url(1, "https:///path").empty());
  CHECK(links.click_url(1, "https://a.example/\r\nSet-Cookie: x=1").empty());
  CHECK(links.click_url(1, "https://a.example/a b").empty());
  CHECK(links.click_url(1, "https://a.example/" + std::string(tracking::TrackingLinks::kMaxUrlLength, 'x')).empty());
  std::string longest = "https://a.example/" + std::string(tracking::TrackingLinks::kMaxUrlLength - 18, 'x');
  std::string click = links.click_url(1, longest);
  REQUIRE_FALSE(click.empty());
  CHECK(links.click_target(token_in(click, "/t/c/"))->second == longest);  // verify accepts what we sign
}

TEST_CASE("tracking_links: tampering, wrong purpose, wrong key, bad payloads") {
  tracking::TokenSigner signer("key-one");
  tracking::TokenSigner other("key-two");
  tracking::TrackingLinks links("https://news.example", signer);
  tracking::TrackingLinks foreign("https://news.example", other);
  std::string open = token_in(links.open_url(7), "/t/o/");
  std::string click = token_in(links.click_url(7, "https://a.example/"), "/t/c/");

  for (size_t i = 0; i < open.size(); ++i)
    if (open[i] != '.') CHECK_FALSE(links.open_send(altered(open, i)));
  for (size_t i = 0; i < click.size(); ++i)
    if (click[i] != '.') CHECK_FALSE(links.click_target(altered(click, i)));
  CHECK_FALSE(links.open_send(click));   // a click token is no open token
  CHECK_FALSE(links.click_target(open));
  CHECK_FALSE(foreign.open_send(open));
  CHECK_FALSE(foreign.click_target(click));
  CHECK_FALSE(links.open_send(""));
  CHECK_FALSE(links.open_send("."));
  CHECK_FALSE(links.open_send("not-a-token"));
  CHECK_FALSE(links.click_target(click + "x"));

  // Correctly signed, but not what TrackingLinks writes: refused all the same.
  auto signed_click = [&](const std::string& payload) { return signer.sign(tracking::TokenPurpose::click, payload); };
  CHECK_FALSE(links.click_target(signed_click("7:javascript:alert(1)")));
  CHECK_FALSE(links.click_target(signed_click("7:https://a.example/\r\nX: y")));
  CHECK_FALSE(links.click_target(signed_click("seven:https://a.example/")));
  CHECK_FALSE(links.click_target(signed_click("-7:https://a.example/")));
  CHECK_FALSE(links.click_target(signed_click("+7:https://a.example/")));
  CHECK_FALSE(links.click_target(signed_click("https://a.example/")));
  CHECK_FALSE(links.open_send(signer.sign(tracking::TokenPurpose::open, "7 ")));
  CHECK_FALSE(links.open_send(signer.sign(tracking::TokenPurpose::open, "99999999999999999999")));
}

// ---- TrackingService -------------------------------------------------------------------------

TEST_CASE("tracking_service: a browser open records one human open and answers the pixel") {
  Fixture f;
  auto r = f.service.open(get(f.open_token()));
  CHECK(r.status == 200);
  CHECK(r.content_type == "image/gif");
  CHECK(r.body == tracking::TrackingService::transparent_gif());
  CHECK(r.body.size() == 43);
  CHECK(r.body.starts_with("GIF89a"));
  CHECK(header_of(r, "Cache-Control").starts_with("no-store"));
  CHECK(f.count() == 1);
  CHECK(f.count("kind = 'opened' AND machine = 0") == 1);
  CHECK(f.last("send_id") == std::to_string(f.send_id));
  CHECK(f.last("at") == std::to_string(kSentAt + 3600));
  CHECK(f.last("campaign_id") != "");
  CHECK(f.last("contact_id") != "");
  CHECK(f.last(testing::json_field("data", "user_agent")) == kFirefox);
  CHECK(f.last(testing::json_type_of("data", "machine_reason")) == "");  // absent for people
}

TEST_CASE("tracking_service: machine opens are recorded, flagged, with their reason") {
  Fixture f;
  auto head = f.service.open(get(f.open_token(), kFirefox, "HEAD"));
  CHECK(head.status == 200);
  CHECK(f.last("machine") == "1");
  CHECK(f.last(testing::json_field("data", "machine_reason")) == "HEAD request");

  f.service.open(get(f.open_token(), "Mozilla/5.0"));
  CHECK(f.last("machine") == "1");
  CHECK(f.last(testing::json_field("data", "machine_reason")).find("Apple Mail Privacy Protection") != std::string::npos);

  f.service.open(get(f.open_token(), "Mozilla/5.0 (compatible; Barracuda link protection)"));
  CHECK(f.last("machine") == "1");

  f.service.open(get(f.open_token(), ""));
  CHECK(f.last(testing::json_field("data", "machine_reason")) == "empty user agent");

  f.clock.set(kSentAt + 4);
  f.service.open(get(f.open_token()));
  CHECK(f.last("machine") == "1");
  CHECK(f.last(testing::json_field("data", "machine_reason")) == "within 10s of sending");

  CHECK(f.count("kind = 'opened'") == 5);
  CHECK(f.count("machine = 0") == 0);
}

TEST_CASE("tracking_service: a click records and redirects to the exact original URL") {
  Fixture f;
  const std::string url = "https://shop.example/sale/item?id=12&ref=mail&q=a%2Fb#reviews";
  auto r = f.service.click(get(f.click_token(url)));
  CHECK(r.status == 302);
  CHECK(location_of(r) == url);
  CHECK(f.count("kind = 'clicked' AND machine = 0") == 1);
  CHECK(f.last(testing::json_field("data", "url")) == url);
  CHECK(f.last(testing::json_field("data", "user_agent")) == kFirefox);

  // A scanner fetching every link at once: the second link inside the window is flagged.
  auto second = f.service.click(get(f.click_token("https://shop.example/other")));
  CHECK(location_of(second) == "https://shop.example/other");
  CHECK(f.last("machine") == "1");
  CHECK(f.last(testing::json_field("data", "machine_reason")).find("several links") != std::string::npos);

  auto curl = f.service.click(get(f.click_token(url), "curl/8.1.2", "HEAD"));
  CHECK(curl.status == 302);
  CHECK(f.last(testing::json_field("data", "machine_reason")) == "HEAD request");
  CHECK(f.count("kind = 'clicked'") == 3);

  // Nothing about the contact changed on these GETs.
  auto db = f.reader();
  CHECK(testing::query_text(db, "SELECT status FROM contacts") == "subscribed");
  CHECK(testing::query_int(db, "SELECT COUNT(*) FROM suppressions") == 0);
}

TEST_CASE("tracking_service: a click within seconds of sending is a machine's") {
  Fixture f;
  f.clock.set(kSentAt + 2);
  auto r = f.service.click(get(f.click_token("https://shop.example/")));
  CHECK(r.status == 302);
  CHECK(f.last("machine") == "1");
  CHECK(f.last(testing::json_field("data", "machine_reason")) == "within 10s of sending");
}

TEST_CASE("tracking_service: forged or altered tokens get 404 and write nothing") {
  Fixture f;
  std::string open = f.open_token();
  std::string click = f.click_token("https://shop.example/");
  tracking::TokenSigner other("another-key");
  std::string foreign_click = other.sign(tracking::TokenPurpose::click, std::to_string(f.send_id) + ":https://evil.example/");
  std::string foreign_open = other.sign(tracking::TokenPurpose::open, std::to_string(f.send_id));

  for (const auto& token : {altered(open, 1), altered(open, open.size() - 2), click, foreign_open, std::string(),
                            std::string("abc.def")}) {
    CAPTURE(token);
    auto r = f.service.open(get(token));
    CHECK(r.status == 404);
    CHECK(r.content_type != "image/gif");
  }
  for (const auto& token : {altered(click, 1), altered(click, click.size() - 2), open, foreign_click, std::string()}) {
    CAPTURE(token);
    auto r = f.service.click(get(token));
    CHECK(r.status == 404);
    CHECK(location_of(r).empty());
  }
  http::HttpRequest no_capture;
  no_capture.method = "GET";
  CHECK(f.service.open(no_capture).status == 404);
  CHECK(f.service.click(no_capture).status == 404);
  CHECK(f.count() == 0);
}

TEST_CASE("tracking_service: a token for a send we do not hold is answered, not recorded") {
  Fixture f;
  auto open = f.service.open(get(token_in(f.links.open_url(0), "/t/o/")));  // a preview's pixel
  CHECK(open.status == 200);
  CHECK(open.content_type == "image/gif");
  auto click = f.service.click(get(token_in(f.links.click_url(999, "https://shop.example/x"), "/t/c/")));
  CHECK(click.status == 302);
  CHECK(location_of(click) == "https://shop.example/x");
  CHECK(f.count() == 0);
}

TEST_CASE("tracking_service: when the store fails, the pixel and the redirect still work") {
  Fixture f;
  auto broken = f.store->writer().run([](const store::Database& db) { return db.exec("DROP TABLE events"); });
  REQUIRE(broken);
  auto open = f.service.open(get(f.open_token()));
  CHECK(open.status == 200);
  CHECK(open.body == tracking::TrackingService::transparent_gif());
  auto click = f.service.click(get(f.click_token("https://shop.example/?a=1")));
  CHECK(click.status == 302);
  CHECK(location_of(click) == "https://shop.example/?a=1");
}

// ---- MessageComposer hook --------------------------------------------------------------------

namespace {

std::string qp_decode(const std::string& s) {
  std::string out;
  auto hex = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '=' && i + 2 < s.size() && s[i + 1] == '\r' && s[i + 2] == '\n') {
      i += 2;
    } else if (s[i] == '=' && i + 2 < s.size()) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

struct ComposerFixture {
  tracking::TokenSigner signer{"composer-key"};
  tracking::TrackingLinks links{"https://news.example", signer};
  delivery::MessageComposer composer{"https://news.example", signer, &links};
  campaigns::Campaign campaign;
  store::Contact contact;
  render::TemplateSet templates;

  static render::TemplateSet load() {
    auto t = render::TemplateSet::from_strings(
        "Hello {{first_name}}",
        "<html><body><p><a href=\"https://shop.example/sale?x=1&amp;y=2\">Sale</a></p>"
        "<p><a href=\"{{unsubscribe_url}}\">Unsubscribe</a> <a href=\"mailto:help@shop.example\">Help</a></p>"
        "</body></html>",
        "Sale: https://shop.example/sale?x=1&y=2.\nUnsubscribe: {{unsubscribe_url}}\n", "test");
    REQUIRE_MESSAGE(t, (t ? "" : t.error()));
    return std::move(*t);
  }

  ComposerFixture() : templates(load()) {
    campaign.name = "spring";
    campaign.from = *util::parse_mailbox("Acme <news@shop.example>");
    contact.id = 5;
    contact.email = "ann@example.com";
    contact.first_name = "Ann";
  }
  std::string compose(std::int64_t send_id) {
    auto m = composer.compose(campaign, templates, contact, send_id, kSentAt);
    REQUIRE_MESSAGE(m, (m ? "" : m.error()));
    return qp_decode(m->bytes);
  }
};

}  // namespace

TEST_CASE("message_composer: tracking rewrites links and adds the pixel, except the unsubscribe link") {
  ComposerFixture f;
  std::string body = f.compose(77);
  std::string unsubscribe = f.composer.unsubscribe_url(77);
  CHECK(body.find("https://shop.example/sale") == std::string::npos);  // no direct link left
  CHECK(body.find("<a href=\"" + unsubscribe + "\">Unsubscribe</a>") != std::string::npos);
  CHECK(body.find("Unsubscribe: " + unsubscribe) != std::string::npos);
  CHECK(body.find("mailto:help@shop.example") != std::string::npos);
  CHECK(body.find("<img src=\"" + f.links.open_url(77) + "\" width=\"1\"") != std::string::npos);
  CHECK(body.find("display:none\"></body>") != std::string::npos);

  // Both parts carry a click link that leads back to the original URL, entities decoded.
  size_t html_at = body.find("<a href=\"https://news.example/t/c/");
  REQUIRE(html_at != std::string::npos);
  size_t token_at = html_at + std::string("<a href=\"https://news.example/t/c/").size();
  std::string html_token = body.substr(token_at, body.find('"', token_at) - token_at);
  auto target = f.links.click_target(html_token);
  REQUIRE(target);
  CHECK(target->first == 77);
  CHECK(target->second == "https://shop.example/sale?x=1&y=2");

  size_t text_at = body.find("Sale: https://news.example/t/c/");
  REQUIRE(text_at != std::string::npos);
  token_at = text_at + std::string("Sale: https://news.example/t/c/").size();
  // The text link ends before the sentence's final dot.
  std::string text_token = body.substr(token_at, body.find(".\r\n", token_at) - token_at);
  auto text_target = f.links.click_target(text_token);
  REQUIRE(text_target);
  CHECK(text_target->second == "https://shop.example/sale?x=1&y=2");
}

TEST_CASE("message_composer: a campaign without tracking, or no links, goes out as rendered") {
  ComposerFixture f;
  f.campaign.track = false;
  std::string body = f.compose(78);
  CHECK(body.find("/t/c/") == std::string::npos);
  CHECK(body.find("/t/o/") == std::string::npos);
  CHECK(body.find("<a href=\"https://shop.example/sale?x=1&amp;y=2\">Sale</a>") != std::string::npos);
  CHECK(body.find("Sale: https://shop.example/sale?x=1&y=2.") != std::string::npos);

  delivery::MessageComposer plain("https://news.example", f.signer);
  f.campaign.track = true;
  auto m = plain.compose(f.campaign, f.templates, f.contact, 79, kSentAt);
  REQUIRE(m);
  CHECK(qp_decode(m->bytes).find("/t/") == std::string::npos);
}
