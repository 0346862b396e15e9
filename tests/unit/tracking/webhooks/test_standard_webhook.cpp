// Standard Webhooks 1.0 through the shipped generic adapter: whsec_ secrets, id.timestamp.body
// signatures with key rotation, the 5-minute window, webhook-id as the idempotency key.
#include <doctest/doctest.h>

#include "tests/unit/tracking/webhooks/signing_support.hpp"
#include "tests/unit/tracking/json_sql.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;
using namespace campaignd::tracking::webhooks::webhook_testing;

namespace {

// The Standard Webhooks specification's example secret.
const std::string kSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

struct Standard {
  Fixture f;
  ScopedEnv secret{"CAMPAIGND_WEBHOOK_STANDARD_SECRET", kSecret};
  WebhookService service = [this] {
    f.install("standard");
    return f.load();
  }();
  std::string key = decode_standard_webhooks_secret(kSecret).value();

  http::HttpRequest signed_post(const std::string& body, const std::string& id, util::UnixTime at,
                                std::string signatures = {}) const {
    std::string ts = std::to_string(at);
    if (signatures.empty()) signatures = standard_signature(key, id, ts, body);
    return post(body, {{"webhook-id", id}, {"webhook-timestamp", ts}, {"webhook-signature", signatures}});
  }
};

}  // namespace

TEST_CASE("standard webhooks: the specification's own example verifies") {
  // From standardwebhooks.com: this id, timestamp and body under the example secret.
  http::HttpRequest r;
  r.body = R"({"test": 2432232314})";
  r.headers = {{"webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek"},
               {"webhook-timestamp", "1614265330"},
               {"webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}};
  auto key = decode_standard_webhooks_secret(kSecret);
  REQUIRE(key);
  CHECK(verify_standard_webhooks(*key, r, 1614265330, 300));
  CHECK_FALSE(verify_standard_webhooks(*key, r, 1614265330 + 301, 300));
  r.body = R"({"test": 2432232315})";
  CHECK_FALSE(verify_standard_webhooks(*key, r, 1614265330, 300));
}

TEST_CASE("standard webhooks: a signed event becomes a bounce tied to its send") {
  Standard s;
  auto r = s.service.handle("standard", s.signed_post(sample("standard_bounced.json"), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", kNow));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(json_of(r)["accepted"] == 1);
  CHECK(s.f.send_of("bounced", "bob@example.com") == s.f.send_ids["bob@example.com"]);
  CHECK(s.f.text("SELECT provider_event_id FROM events") == "standard:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W");
  CHECK(s.f.contact_status("bob@example.com") == "bounced");
  CHECK(s.f.suppressed("bob@example.com"));

  // A redelivery has the same webhook-id (and a new timestamp and signature).
  s.f.clock.advance_seconds(60);
  r = s.service.handle("standard", s.signed_post(sample("standard_bounced.json"), "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W", kNow + 60));
  REQUIRE(r.status == 200);
  CHECK(json_of(r)["duplicates"] == 1);
  CHECK(s.f.events("bounced") == 1);
}

TEST_CASE("standard webhooks: a batch under one webhook-id gives each event its own id") {
  Standard s;
  std::string body = sample("standard_batch.json");
  auto r = s.service.handle("standard", s.signed_post(body, "msg_batch1", kNow));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(json_of(r)["accepted"] == 4);
  CHECK(json_of(r)["ignored"] == 1);  // email.sent
  CHECK(s.f.count("SELECT count(DISTINCT provider_event_id) FROM events") == 4);
  CHECK(s.f.count("SELECT machine FROM events WHERE kind = 'opened'") == 1);
  CHECK(s.f.text("SELECT " + testing::json_field("data", "bounce_type") + " FROM events WHERE kind = 'bounced'") == "soft");
  CHECK(s.f.contact_status("dave@example.com") == "subscribed");
  r = s.service.handle("standard", s.signed_post(body, "msg_batch1", kNow));
  CHECK(json_of(r)["duplicates"] == 4);
}

TEST_CASE("standard webhooks: key rotation lists several signatures") {
  Standard s;
  std::string body = sample("standard_bounced.json");
  std::string ts = std::to_string(kNow);
  std::string old_key = decode_standard_webhooks_secret("whsec_c2VjcmV0LW9mLXRoZS1vbGQta2V5").value();
  std::string both = standard_signature(old_key, "msg_rot", ts, body) + " " + standard_signature(s.key, "msg_rot", ts, body);
  CHECK(s.service.handle("standard", s.signed_post(body, "msg_rot", kNow, both)).status == 200);
  // Only the old key's signature, or other versions only: refused.
  std::string old_only = standard_signature(old_key, "msg_rot2", ts, body);
  CHECK(s.service.handle("standard", s.signed_post(body, "msg_rot2", kNow, old_only)).status == 401);
  std::string good = standard_signature(s.key, "msg_rot3", ts, body);
  CHECK(s.service.handle("standard", s.signed_post(body, "msg_rot3", kNow, "v1a," + good.substr(3))).status == 401);
}

TEST_CASE("standard webhooks: forged, stale and incomplete posts get 401") {
  Standard s;
  std::string body = sample("standard_bounced.json");
  auto req = s.signed_post(body, "msg_1", kNow);
  req.headers["webhook-id"] = "msg_2";  // the id is signed
  CHECK(s.service.handle("standard", req).status == 401);

  auto stale = s.service.handle("standard", s.signed_post(body, "msg_3", kNow - 301));
  CHECK(stale.status == 401);
  CHECK(json_of(stale)["error"].get<std::string>().starts_with("stale timestamp"));
  auto future = s.service.handle("standard", s.signed_post(body, "msg_4", kNow + 301));
  CHECK(future.status == 401);
  CHECK(s.service.handle("standard", s.signed_post(body, "msg_5", kNow - 299)).status == 200);

  auto missing = s.signed_post(body, "msg_6", kNow);
  missing.headers.erase("webhook-timestamp");
  CHECK(s.service.handle("standard", missing).status == 401);
  auto garbage = s.signed_post(body, "msg_7", kNow);
  garbage.headers["webhook-timestamp"] = "noon";
  CHECK(s.service.handle("standard", garbage).status == 401);
  CHECK(s.f.events("bounced") == 1);
}

TEST_CASE("standard webhooks: secrets") {
  CHECK(decode_standard_webhooks_secret("whsec_aGVsbG8=").value() == "hello");
  CHECK(decode_standard_webhooks_secret("aGVsbG8").value() == "hello");
  CHECK_FALSE(decode_standard_webhooks_secret("whsec_"));
  CHECK_FALSE(decode_standard_webhooks_secret("whsec_not base64!"));

  Fixture f;
  f.install("standard");
  ScopedEnv secret("CAMPAIGND_WEBHOOK_STANDARD_SECRET", "whsec_%%%");
  auto service = f.load();
  CHECK(f.load_errors.size() == 1);
  CHECK(service.handle("standard", post("{}")).status == 401);
}
