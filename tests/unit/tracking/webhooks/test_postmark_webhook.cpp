// Postmark through the shipped adapter: Basic auth, every record type of its documentation, bounce
// types split into hard and soft, and idempotency without a provider event id.
#include <doctest/doctest.h>

#include "tests/unit/tracking/webhooks/signing_support.hpp"
#include "tests/unit/tracking/json_sql.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;
using namespace campaignd::tracking::webhooks::webhook_testing;

namespace {

struct Postmark {
  Fixture f;
  ScopedEnv secret{"CAMPAIGND_WEBHOOK_POSTMARK_SECRET", "postmark:s3cret-Pa55"};
  WebhookService service = [this] {
    f.install("postmark");
    return f.load();
  }();

  http::HttpResponse send(const std::string& body, const std::string& credentials = "postmark:s3cret-Pa55") {
    return service.handle("postmark", post(body, {{"authorization", "Basic " + util::base64_encode(credentials)}}));
  }
};

}  // namespace

TEST_CASE("postmark: every record type maps") {
  Postmark pm;
  for (const char* name : {"postmark_delivery.json", "postmark_bounce_hard.json", "postmark_bounce_soft.json",
                           "postmark_bounce_transient.json", "postmark_spam_complaint.json", "postmark_open.json",
                           "postmark_click.json"}) {
    CAPTURE(name);
    auto r = pm.send(sample(name));
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(json_of(r)["accepted"] == 1);
  }
  CHECK(pm.f.events("delivered") == 1);
  CHECK(pm.f.events("bounced") == 3);
  CHECK(pm.f.events("complained") == 1);
  CHECK(pm.f.events("opened") == 1);
  CHECK(pm.f.events("clicked") == 1);
  CHECK(pm.f.count("SELECT count(*) FROM events WHERE " + testing::json_field("data", "bounce_type") + " = 'hard'") == 1);
  CHECK(pm.f.count("SELECT count(*) FROM events WHERE " + testing::json_field("data", "bounce_type") + " = 'soft'") == 2);
  // Our Message-ID travels in Metadata; Postmark's MessageID is its own and is not used.
  CHECK(pm.f.send_of("delivered", "alice@example.com") == pm.f.send_ids["alice@example.com"]);
  CHECK(pm.f.send_of("bounced", "bob@example.com") == pm.f.send_ids["bob@example.com"]);
  // No metadata: tied to the contact by recipient.
  CHECK(pm.f.count("SELECT count(*) FROM events e JOIN contacts c ON c.id = e.contact_id "
                   "WHERE c.email = 'dave@example.com' AND e.kind = 'bounced'") == 2);
  // ISO-8601 times with seven fractional digits.
  CHECK(pm.f.count("SELECT at FROM events WHERE kind = 'delivered'") == 1700000100);
  CHECK(pm.f.count("SELECT at FROM events e JOIN contacts c ON c.id = e.contact_id "
                   "WHERE c.email = 'bob@example.com' AND e.kind = 'bounced'") == 1700000200);
  CHECK(pm.f.text("SELECT " + testing::json_field("data", "url") + " FROM events WHERE kind = 'clicked'") == "https://acme.example/sale");
  CHECK(pm.f.text("SELECT provider_event_id FROM events WHERE kind = 'opened'").starts_with("postmark:sha256:"));

  CHECK(pm.f.contact_status("bob@example.com") == "bounced");
  CHECK(pm.f.suppressed("bob@example.com"));
  CHECK(pm.f.contact_status("carol@example.com") == "complained");
  CHECK(pm.f.suppressed("carol@example.com"));
  // Two soft bounces are below the recorder's limit of three.
  CHECK(pm.f.contact_status("dave@example.com") == "subscribed");
  CHECK(pm.f.count("SELECT soft_bounces FROM contacts WHERE email = 'dave@example.com'") == 2);
}

TEST_CASE("postmark: a subscription change that suppresses sending is an unsubscribe") {
  Postmark pm;
  auto r = pm.send(sample("postmark_subscription_change.json"));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(pm.f.events("unsubscribed") == 1);
  CHECK(pm.f.contact_status("dave@example.com") == "unsubscribed");
  CHECK(pm.f.suppressed("dave@example.com"));

  // Reactivation (SuppressSending false) changes nothing here: it is ignored.
  auto body = nlohmann::json::parse(sample("postmark_subscription_change.json"));
  body["SuppressSending"] = false;
  body["Recipient"] = "alice@example.com";
  r = pm.send(body.dump());
  REQUIRE(r.status == 200);
  CHECK(json_of(r)["ignored"] == 1);
  CHECK(pm.f.contact_status("alice@example.com") == "subscribed");
}

TEST_CASE("postmark: a retried post is a duplicate, a different one is not") {
  Postmark pm;
  REQUIRE(pm.send(sample("postmark_open.json")).status == 200);
  auto r = pm.send(sample("postmark_open.json"));
  REQUIRE(r.status == 200);
  CHECK(json_of(r)["duplicates"] == 1);
  auto second_open = nlohmann::json::parse(sample("postmark_open.json"));
  second_open["FirstOpen"] = false;
  second_open["ReceivedAt"] = "2023-11-15T08:00:00Z";
  r = pm.send(second_open.dump());
  CHECK(json_of(r)["accepted"] == 1);
  CHECK(pm.f.events("opened") == 2);
}

TEST_CASE("postmark: wrong or missing credentials get 401") {
  Postmark pm;
  std::string body = sample("postmark_bounce_hard.json");
  CHECK(pm.send(body, "postmark:wrong").status == 401);
  CHECK(pm.send(body, "postmark:s3cret-Pa55 ").status == 401);
  CHECK(pm.service.handle("postmark", post(body)).status == 401);
  CHECK(pm.service.handle("postmark", post(body, {{"authorization", "Bearer postmark:s3cret-Pa55"}})).status == 401);
  CHECK(pm.service.handle("postmark", post(body, {{"authorization", "Basic ***"}})).status == 401);
  CHECK(pm.f.count("SELECT count(*) FROM events") == 0);
  CHECK(pm.f.contact_status("bob@example.com") == "subscribed");
  // The scheme name is case-insensitive (RFC 7617).
  CHECK(pm.service.handle("postmark", post(body, {{"authorization", "basic " + util::base64_encode("postmark:s3cret-Pa55")}}))
            .status == 200);
}

TEST_CASE("postmark: a secret without user:password is not usable") {
  Fixture f;
  f.install("postmark");
  ScopedEnv secret("CAMPAIGND_WEBHOOK_POSTMARK_SECRET", "just-a-password");
  auto service = f.load();
  CHECK(f.load_errors.size() == 1);
  auto r = service.handle("postmark", post(sample("postmark_open.json"),
                                           {{"authorization", "Basic " + util::base64_encode("just-a-password")}}));
  CHECK(r.status == 401);
  CHECK(json_of(r)["error"].get<std::string>().starts_with("webhook secret not configured"));
}

TEST_CASE("postmark: malformed bodies and times get 400") {
  Postmark pm;
  CHECK(pm.send("").status == 400);
  CHECK(pm.send("{\"RecordType\": \"Open\"").status == 400);
  auto body = nlohmann::json::parse(sample("postmark_delivery.json"));
  body["DeliveredAt"] = "last tuesday";
  auto r = pm.send(body.dump());
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"].get<std::string>().find("time \"last tuesday\" does not parse") != std::string::npos);
}
