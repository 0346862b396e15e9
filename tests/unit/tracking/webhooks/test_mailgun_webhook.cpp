// Mailgun through the shipped adapter: documented event payloads signed with the HMAC scheme;
// forged and stale signatures and replayed tokens refused; severity decides the bounce.
#include <doctest/doctest.h>

#include "daemon/util/strings.hpp"
#include "tests/unit/tracking/webhooks/signing_support.hpp"
#include "tests/unit/tracking/json_sql.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;
using namespace campaignd::tracking::webhooks::webhook_testing;

namespace {

const std::string kSigningKey = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0";

struct Mailgun {
  Fixture f;
  ScopedEnv secret{"CAMPAIGND_WEBHOOK_MAILGUN_SECRET", kSigningKey};
  WebhookService service = [this] {
    f.install("mailgun");
    return f.load();
  }();
  int tokens = 0;

  // The sample with a fresh signature block, as Mailgun signs each post.
  std::string signed_body(const std::string& sample_name, util::UnixTime at, std::string token = {},
                          const std::string& key = kSigningKey) {
    if (token.empty()) token = "tok" + std::to_string(++tokens) + "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";
    auto body = nlohmann::json::parse(sample(sample_name));
    std::string ts = std::to_string(at);
    body["signature"] = {{"timestamp", ts}, {"token", token}, {"signature", mailgun_signature(key, ts, token)}};
    return body.dump();
  }
  http::HttpResponse send(const std::string& body) {
    return service.handle("mailgun", post(body, {{"content-type", "application/json"}}));
  }
};

}  // namespace

TEST_CASE("mailgun: delivered, failed permanent and temporary, opened, complained") {
  Mailgun mg;
  for (const char* name : {"mailgun_delivered.json", "mailgun_failed_permanent.json", "mailgun_failed_temporary.json",
                           "mailgun_opened.json", "mailgun_complained.json"}) {
    CAPTURE(name);
    auto r = mg.send(mg.signed_body(name, kNow));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(json_of(r)["accepted"] == 1);
  }
  // Each tied to its send by message.headers.message-id.
  CHECK(mg.f.send_of("delivered", "alice@example.com") == mg.f.send_ids["alice@example.com"]);
  CHECK(mg.f.send_of("opened", "alice@example.com") == mg.f.send_ids["alice@example.com"]);
  CHECK(mg.f.send_of("bounced", "bob@example.com") == mg.f.send_ids["bob@example.com"]);
  CHECK(mg.f.send_of("deferred", "dave@example.com") == mg.f.send_ids["dave@example.com"]);
  CHECK(mg.f.send_of("complained", "carol@example.com") == mg.f.send_ids["carol@example.com"]);
  // Fractional Unix timestamps are whole seconds.
  CHECK(mg.f.count("SELECT at FROM events WHERE kind = 'delivered'") == 1700000160);
  CHECK(mg.f.text("SELECT provider_event_id FROM events WHERE kind = 'delivered'") == "mailgun:CPgfbmQMTCKtHW6uIWtuVe");
  CHECK(mg.f.text("SELECT " + testing::json_field("data", "user_agent") + " FROM events WHERE kind = 'opened'").starts_with("Mozilla/5.0 (X11"));
  CHECK(mg.f.text("SELECT " + testing::json_field("data", "reason") + " FROM events WHERE kind = 'bounced'") ==
        "Not delivering to previously bounced address");
  CHECK(mg.f.text("SELECT " + testing::json_field("data", "reason") + " FROM events WHERE kind = 'deferred'").starts_with("452 4.2.2"));

  // permanent -> hard bounce -> suppressed; temporary -> deferred, nothing suppressed.
  CHECK(mg.f.contact_status("bob@example.com") == "bounced");
  CHECK(mg.f.suppressed("bob@example.com"));
  CHECK(mg.f.contact_status("dave@example.com") == "subscribed");
  CHECK_FALSE(mg.f.suppressed("dave@example.com"));
  CHECK(mg.f.contact_status("carol@example.com") == "complained");
  CHECK(mg.f.suppressed("carol@example.com"));
  CHECK(mg.f.count("SELECT count(*) FROM webhook_nonces WHERE provider = 'mailgun'") == 5);
}

TEST_CASE("mailgun: the same event in a new post (new token) is a duplicate") {
  Mailgun mg;
  REQUIRE(mg.send(mg.signed_body("mailgun_delivered.json", kNow)).status == 200);
  auto r = mg.send(mg.signed_body("mailgun_delivered.json", kNow));
  REQUIRE(r.status == 200);
  CHECK(json_of(r)["accepted"] == 0);
  CHECK(json_of(r)["duplicates"] == 1);
  CHECK(mg.f.events("delivered") == 1);
}

TEST_CASE("mailgun: a replayed token gets 401") {
  Mailgun mg;
  std::string body = mg.signed_body("mailgun_opened.json", kNow, "replayme0123456789");
  REQUIRE(mg.send(body).status == 200);
  mg.f.clock.advance_seconds(20);
  auto r = mg.send(body);
  CHECK(r.status == 401);
  CHECK(json_of(r)["error"] == "replayed signature token");
  // Even with a different event under the same token.
  r = mg.send(mg.signed_body("mailgun_complained.json", kNow, "replayme0123456789"));
  CHECK(r.status == 401);
  CHECK(mg.f.events("complained") == 0);
  CHECK(mg.f.contact_status("carol@example.com") == "subscribed");
}

TEST_CASE("mailgun: old nonces are forgotten once they could not pass the timestamp check") {
  Mailgun mg;
  REQUIRE(mg.send(mg.signed_body("mailgun_delivered.json", kNow, "first-token")).status == 200);
  mg.f.clock.advance_seconds(3600);
  REQUIRE(mg.send(mg.signed_body("mailgun_opened.json", kNow + 3600)).status == 200);
  CHECK(mg.f.count("SELECT count(*) FROM webhook_nonces WHERE nonce = 'first-token'") == 0);
  CHECK(mg.f.count("SELECT count(*) FROM webhook_nonces") == 1);
  // And the old post still cannot come back: its timestamp is stale.
  CHECK(mg.send(mg.signed_body("mailgun_delivered.json", kNow, "first-token")).status == 401);
}

TEST_CASE("mailgun: forged and stale signatures get 401") {
  Mailgun mg;
  auto wrong_key = mg.send(mg.signed_body("mailgun_failed_permanent.json", kNow, {}, "key-not-the-one"));
  CHECK(wrong_key.status == 401);
  CHECK(json_of(wrong_key)["error"] == "bad signature");

  auto stale = mg.send(mg.signed_body("mailgun_failed_permanent.json", kNow - 301));
  CHECK(stale.status == 401);
  CHECK(json_of(stale)["error"].get<std::string>().starts_with("stale timestamp"));
  CHECK(mg.send(mg.signed_body("mailgun_failed_permanent.json", kNow - 299)).status == 200);
}

TEST_CASE("mailgun: tampering and missing signature fields") {
  Mailgun mg;
  auto body = nlohmann::json::parse(mg.signed_body("mailgun_failed_permanent.json", kNow));
  body["event-data"]["recipient"] = "alice@example.com";
  CHECK(mg.send(body.dump()).status == 200);  // the signature covers timestamp + token only...
  body = nlohmann::json::parse(mg.signed_body("mailgun_failed_permanent.json", kNow));
  body["signature"]["timestamp"] = std::to_string(kNow + 1);
  CHECK(mg.send(body.dump()).status == 401);  // ...which cannot be changed
  body.erase("signature");
  auto r = mg.send(body.dump());
  CHECK(r.status == 401);
  CHECK(json_of(r)["error"] == "missing signature object");
  body["signature"] = {{"timestamp", "soon"}, {"token", "t"}, {"signature", "00"}};
  CHECK(mg.send(body.dump()).status == 401);
}

TEST_CASE("mailgun: malformed bodies get 400; unknown events are ignored") {
  Mailgun mg;
  auto r = mg.send("{\"signature\": {");
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"].get<std::string>().starts_with("malformed JSON: parse error at line 1"));

  auto body = nlohmann::json::parse(mg.signed_body("mailgun_opened.json", kNow));
  body.erase("event-data");
  r = mg.send(body.dump());
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"] == "no events at $.event-data");

  body = nlohmann::json::parse(mg.signed_body("mailgun_opened.json", kNow));
  body["event-data"]["event"] = "stored";
  r = mg.send(body.dump());
  REQUIRE(r.status == 200);
  CHECK(json_of(r)["ignored"] == 1);
  CHECK(json_of(r)["accepted"] == 0);
}
