// SendGrid through the shipped adapter: a documented multi-event array, signed with a real
// EC P-256 key; forged, stale and unsigned posts refused; duplicates counted once.
#include <doctest/doctest.h>

#include "daemon/util/strings.hpp"
#include "tests/unit/tracking/webhooks/signing_support.hpp"
#include "tests/unit/tracking/json_sql.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;
using namespace campaignd::tracking::webhooks::webhook_testing;

namespace {

struct SendGrid {
  Fixture f;
  EcKey key;
  ScopedEnv secret{"CAMPAIGND_WEBHOOK_SENDGRID_SECRET", key.spki_base64()};
  WebhookService service = [this] {
    f.install("sendgrid");
    return f.load();
  }();

  http::HttpRequest signed_post(const std::string& body, util::UnixTime at) const {
    std::string ts = std::to_string(at);
    return post(body, {{"x-twilio-email-event-webhook-signature", key.sign(ts + body)},
                       {"x-twilio-email-event-webhook-timestamp", ts},
                       {"content-type", "application/json"}});
  }
};

}  // namespace

TEST_CASE("sendgrid: a signed batch becomes events tied to their sends") {
  SendGrid sg;
  std::string body = sample("sendgrid_events.json");
  auto r = sg.service.handle("sendgrid", sg.signed_post(body, kNow));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  auto j = json_of(r);
  // processed and dropped are ignored; the other eight are recorded.
  CHECK(j["accepted"] == 8);
  CHECK(j["duplicates"] == 0);
  CHECK(j["ignored"] == 2);

  CHECK(sg.f.events("delivered") == 1);
  CHECK(sg.f.events("opened") == 2);
  CHECK(sg.f.events("clicked") == 1);
  CHECK(sg.f.events("bounced") == 1);
  CHECK(sg.f.events("complained") == 1);
  CHECK(sg.f.events("unsubscribed") == 1);
  CHECK(sg.f.events("deferred") == 1);
  // By smtp-id (our Message-ID) for delivered and bounce, by recipient for the rest.
  CHECK(sg.f.send_of("delivered", "alice@example.com") == sg.f.send_ids["alice@example.com"]);
  CHECK(sg.f.send_of("bounced", "bob@example.com") == sg.f.send_ids["bob@example.com"]);
  CHECK(sg.f.count("SELECT campaign_id FROM events WHERE kind = 'delivered'") == sg.f.campaign_id);
  // sg_machine_open: the Apple MPP prefetch is flagged, the real open is not.
  CHECK(sg.f.count("SELECT count(*) FROM events WHERE kind = 'opened' AND machine = 1") == 1);
  CHECK(sg.f.count("SELECT count(*) FROM events WHERE kind = 'opened' AND machine = 0") == 1);
  // Times, ids, reasons and urls come from the payload.
  CHECK(sg.f.count("SELECT at FROM events WHERE kind = 'delivered'") == 1700000160);
  CHECK(sg.f.text("SELECT provider_event_id FROM events WHERE kind = 'clicked'") == "sendgrid:kCAi1KttyQdEKHhdC-nuEA");
  CHECK(sg.f.text("SELECT " + testing::json_field("data", "url") + " FROM events WHERE kind = 'clicked'") ==
        "https://acme.example/sale?utm_source=spring");
  CHECK(sg.f.text("SELECT " + testing::json_field("data", "reason") + " FROM events WHERE kind = 'bounced'").starts_with("550 5.1.1"));
  CHECK(sg.f.text("SELECT " + testing::json_field("data", "bounce_type") + " FROM events WHERE kind = 'bounced'") == "hard");
  CHECK(sg.f.text("SELECT " + testing::json_field("data", "reason") + " FROM events WHERE kind = 'deferred'") == "400 try again later");

  // Consequences (applied by the EventRecorder): hard bounce, complaint, unsubscribe.
  CHECK(sg.f.contact_status("bob@example.com") == "bounced");
  CHECK(sg.f.suppressed("bob@example.com"));
  CHECK(sg.f.contact_status("carol@example.com") == "complained");
  CHECK(sg.f.suppressed("carol@example.com"));
  CHECK(sg.f.contact_status("dave@example.com") == "unsubscribed");
  CHECK(sg.f.contact_status("alice@example.com") == "subscribed");
  CHECK_FALSE(sg.f.suppressed("alice@example.com"));

  // SendGrid retries the whole batch: nothing is recorded twice.
  sg.f.clock.advance_seconds(30);
  auto again = sg.service.handle("sendgrid", sg.signed_post(body, kNow + 30));
  REQUIRE(again.status == 200);
  CHECK(json_of(again)["accepted"] == 0);
  CHECK(json_of(again)["duplicates"] == 8);
  CHECK(sg.f.count("SELECT count(*) FROM events") == 8);
}

TEST_CASE("sendgrid: a blocked bounce is soft and suppresses nobody") {
  SendGrid sg;
  std::string body = R"([{"email":"alice@example.com","timestamp":1700000170,"smtp-id":"<alice.1700000000@mail.acme.test>",
    "event":"bounce","sg_event_id":"blk-1","reason":"550 5.7.1 blocked by policy","type":"blocked"}])";
  auto r = sg.service.handle("sendgrid", sg.signed_post(body, kNow));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(sg.f.text("SELECT " + testing::json_field("data", "bounce_type") + " FROM events WHERE kind = 'bounced'") == "soft");
  CHECK(sg.f.contact_status("alice@example.com") == "subscribed");
  CHECK_FALSE(sg.f.suppressed("alice@example.com"));
}

TEST_CASE("sendgrid: forged, altered, stale and unsigned posts get 401 and change nothing") {
  SendGrid sg;
  std::string body = sample("sendgrid_events.json");
  std::string ts = std::to_string(kNow);

  SUBCASE("signed by another key") {
    EcKey other;
    auto r = sg.service.handle("sendgrid", post(body, {{"x-twilio-email-event-webhook-signature", other.sign(ts + body)},
                                                       {"x-twilio-email-event-webhook-timestamp", ts}}));
    CHECK(r.status == 401);
    CHECK(json_of(r)["error"] == "bad signature");
  }
  SUBCASE("body altered after signing") {
    auto req = sg.signed_post(body, kNow);
    req.body = util::replace_all(req.body, "\"bounce\"", "\"delivered\"");
    CHECK(sg.service.handle("sendgrid", req).status == 401);
  }
  SUBCASE("timestamp header changed after signing") {
    auto req = sg.signed_post(body, kNow);
    req.headers["x-twilio-email-event-webhook-timestamp"] = std::to_string(kNow + 1);
    CHECK(sg.service.handle("sendgrid", req).status == 401);
  }
  SUBCASE("stale timestamp, validly signed") {
    auto r = sg.service.handle("sendgrid", sg.signed_post(body, kNow - 3600));
    CHECK(r.status == 401);
    CHECK(json_of(r)["error"].get<std::string>().starts_with("stale timestamp"));
  }
  SUBCASE("no signature headers") {
    auto r = sg.service.handle("sendgrid", post(body));
    CHECK(r.status == 401);
    CHECK(json_of(r)["error"].get<std::string>().find("missing") != std::string::npos);
  }
  SUBCASE("signature that is not base64") {
    auto r = sg.service.handle("sendgrid", post(body, {{"x-twilio-email-event-webhook-signature", "%%%"},
                                                       {"x-twilio-email-event-webhook-timestamp", ts}}));
    CHECK(r.status == 401);
  }
  CHECK(sg.f.count("SELECT count(*) FROM events") == 0);
  CHECK(sg.f.contact_status("bob@example.com") == "subscribed");
}

TEST_CASE("sendgrid: malformed bodies get 400 with a reason, once the signature is good") {
  SendGrid sg;
  auto r = sg.service.handle("sendgrid", sg.signed_post(R"([{"event":"open",)", kNow));
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"].get<std::string>().find("malformed JSON") != std::string::npos);
  CHECK(json_of(r)["error"].get<std::string>().find("line 1, column") != std::string::npos);

  r = sg.service.handle("sendgrid", sg.signed_post(R"([{"event":"open","timestamp":"yesterday","email":"a@x"}])", kNow));
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"].get<std::string>().find("event 0: time") != std::string::npos);

  r = sg.service.handle("sendgrid", sg.signed_post(R"([{"event":"open"}, 42])", kNow));
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"] == "event 1 is not an object");

  r = sg.service.handle("sendgrid", sg.signed_post(R"("just a string")", kNow));
  CHECK(r.status == 400);
  CHECK(sg.f.count("SELECT count(*) FROM events") == 0);
}

TEST_CASE("sendgrid: without its public key every post is refused") {
  Fixture f;
  f.install("sendgrid");
  ::unsetenv("CAMPAIGND_WEBHOOK_SENDGRID_SECRET");
  auto service = f.load();
  auto r = service.handle("sendgrid", post(sample("sendgrid_events.json")));
  CHECK(r.status == 401);
  CHECK(json_of(r)["error"].get<std::string>().starts_with("webhook secret not configured"));
  CHECK(f.count("SELECT count(*) FROM events") == 0);
}

TEST_CASE("sendgrid: a key that is not an EC P-256 key is reported at load") {
  Fixture f;
  f.install("sendgrid");
  ScopedEnv secret("CAMPAIGND_WEBHOOK_SENDGRID_SECRET", "bm90IGEga2V5");
  auto service = f.load();
  REQUIRE(f.load_errors.size() == 1);
  CHECK(f.load_errors[0].to_string().find("CAMPAIGND_WEBHOOK_SENDGRID_SECRET") != std::string::npos);
  CHECK(service.handle("sendgrid", post("[]")).status == 401);
}
