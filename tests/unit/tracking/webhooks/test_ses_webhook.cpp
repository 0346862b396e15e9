// Amazon SES via SNS through the shipped adapter: SNS envelopes signed with an RSA key whose
// self-signed certificate is configured (SignatureVersion 1 and 2), the SubscriptionConfirmation
// step, and SES's documented event bodies.
#include <doctest/doctest.h>

#include <filesystem>

#include "daemon/util/strings.hpp"
#include "tests/unit/tracking/webhooks/signing_support.hpp"
#include "tests/unit/tracking/json_sql.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;
using namespace campaignd::tracking::webhooks::webhook_testing;
using nlohmann::json;

namespace {

const std::string kTopic = "arn:aws:sns:us-east-1:123456789012:ses-events";
const std::string kCertUrl = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem";

struct Ses {
  Fixture f;
  RsaCertificate cert{f.tmp};
  ScopedEnv secret{"CAMPAIGND_WEBHOOK_SES_SECRET", cert.cert_path()};
  WebhookService service = [this] {
    f.install("ses");
    return f.load();
  }();
  int serial = 0;

  json sign(json envelope, const std::string& version = "2") const {
    envelope["SignatureVersion"] = version;
    envelope["SigningCertURL"] = kCertUrl;
    auto canonical = sns_canonical_string(envelope);
    REQUIRE_MESSAGE(canonical, (canonical ? "" : canonical.error()));
    envelope["Signature"] = cert.sign(*canonical, version == "1" ? EVP_sha1() : EVP_sha256());
    return envelope;
  }
  json notification(const std::string& ses_sample, const std::string& version = "2") {
    json envelope = {{"Type", "Notification"},
                     {"MessageId", "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf3" + std::to_string(10 + ++serial)},
                     {"TopicArn", kTopic},
                     {"Message", sample(ses_sample)},
                     {"Timestamp", "2023-11-14T22:20:00.000Z"},
                     {"UnsubscribeURL", "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x"}};
    return sign(envelope, version);
  }
  json subscription(const std::string& subscribe_url) const {
    return sign({{"Type", "SubscriptionConfirmation"},
                 {"MessageId", "165545c9-2a5c-472c-8df2-7ff2be2b3b1b"},
                 {"Token", "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736"},
                 {"TopicArn", kTopic},
                 {"Message", "You have chosen to subscribe to the topic " + kTopic + ".\nTo confirm the subscription, visit the SubscribeURL included in this message."},
                 {"SubscribeURL", subscribe_url},
                 {"Timestamp", "2023-11-14T22:00:00.000Z"}});
  }
  http::HttpResponse send(const json& envelope) {
    return service.handle("ses", post(envelope.dump(), {{"x-amz-sns-message-type", envelope.value("Type", "")}}));
  }
};

}  // namespace

TEST_CASE("sns: the canonical string lists AWS's fields in AWS's order") {
  json n = {{"Type", "Notification"}, {"MessageId", "m-1"}, {"TopicArn", "arn:t"}, {"Subject", "Hi"},
            {"Message", "body\nline 2"}, {"Timestamp", "2023-11-14T22:20:00.000Z"}, {"SignatureVersion", "2"}};
  CHECK(sns_canonical_string(n).value() ==
        "Message\nbody\nline 2\nMessageId\nm-1\nSubject\nHi\nTimestamp\n2023-11-14T22:20:00.000Z\nTopicArn\narn:t\n"
        "Type\nNotification\n");
  n.erase("Subject");
  CHECK(sns_canonical_string(n).value().find("Subject") == std::string::npos);
  json s = {{"Type", "SubscriptionConfirmation"}, {"MessageId", "m"}, {"Token", "tk"}, {"TopicArn", "arn:t"},
            {"Message", "x"}, {"SubscribeURL", "https://u"}, {"Timestamp", "t"}};
  CHECK(sns_canonical_string(s).value() ==
        "Message\nx\nMessageId\nm\nSubscribeURL\nhttps://u\nTimestamp\nt\nToken\ntk\nTopicArn\narn:t\nType\nSubscriptionConfirmation\n");
  s.erase("Token");
  CHECK_FALSE(sns_canonical_string(s));
  CHECK_FALSE(sns_canonical_string(json{{"Type", "Gossip"}}));
  CHECK_FALSE(sns_canonical_string(json::array()));
}

TEST_CASE("ses: bounce, complaint, delivery, open and click notifications") {
  Ses ses;
  for (const char* name : {"ses_bounce_permanent.json", "ses_bounce_transient.json", "ses_complaint.json",
                           "ses_delivery.json", "ses_open.json", "ses_click.json"}) {
    CAPTURE(name);
    auto r = ses.send(ses.notification(name));
    REQUIRE_MESSAGE(r.status == 200, r.body);
  }
  CHECK(ses.f.events("bounced") == 2);
  CHECK(ses.f.events("complained") == 1);
  CHECK(ses.f.events("delivered") == 1);
  CHECK(ses.f.events("opened") == 1);
  CHECK(ses.f.events("clicked") == 1);

  CHECK(ses.f.send_of("bounced", "bob@example.com") == ses.f.send_ids["bob@example.com"]);
  CHECK(ses.f.send_of("complained", "carol@example.com") == ses.f.send_ids["carol@example.com"]);
  // Delivery has no commonHeaders.messageId: found among mail.headers (name case-insensitive).
  CHECK(ses.f.send_of("delivered", "alice@example.com") == ses.f.send_ids["alice@example.com"]);
  CHECK(ses.f.send_of("clicked", "alice@example.com") == ses.f.send_ids["alice@example.com"]);
  CHECK(ses.f.text("SELECT " + testing::json_field("data", "url") + " FROM events WHERE kind = 'clicked'") == "https://acme.example/sale");
  CHECK(ses.f.count("SELECT at FROM events WHERE kind = 'delivered'") == 1700000100);

  CHECK(ses.f.text("SELECT " + testing::json_field("data", "reason") + " FROM events e JOIN contacts c ON c.id = e.contact_id "
                   "WHERE c.email = 'bob@example.com'") == "smtp; 550 5.1.1 user unknown");
  CHECK(ses.f.text("SELECT provider_event_id FROM events WHERE kind = 'complained'").starts_with("ses:22b80b92-"));

  CHECK(ses.f.contact_status("bob@example.com") == "bounced");
  CHECK(ses.f.suppressed("bob@example.com"));
  CHECK(ses.f.contact_status("carol@example.com") == "complained");
  CHECK(ses.f.contact_status("dave@example.com") == "subscribed");  // Transient = soft
  CHECK(ses.f.text("SELECT " + testing::json_field("data", "bounce_type") + " FROM events e JOIN contacts c ON c.id = e.contact_id "
                   "WHERE c.email = 'dave@example.com'") == "soft");
}

TEST_CASE("ses: a bounce naming several recipients makes one event each") {
  Ses ses;
  auto message = json::parse(sample("ses_bounce_permanent.json"));
  message["bounce"]["bouncedRecipients"].push_back(
      {{"emailAddress", "ghost@example.com"}, {"action", "failed"}, {"status", "5.1.1"},
       {"diagnosticCode", "smtp; 550 5.1.1 no such mailbox"}});
  message["mail"]["destination"].push_back("ghost@example.com");
  json envelope = {{"Type", "Notification"}, {"MessageId", "multi-1"}, {"TopicArn", kTopic},
                   {"Message", message.dump()}, {"Timestamp", "2023-11-14T22:20:00.000Z"}};
  auto r = ses.send(ses.sign(envelope));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(json_of(r)["accepted"] == 2);
  CHECK(ses.f.events("bounced") == 2);
  // Per-recipient diagnostic codes are paired with their recipients, each event has its own id.
  CHECK(ses.f.text("SELECT " + testing::json_field("data", "reason") + " FROM events WHERE " + testing::json_field("data", "recipient") + " = "
                   "'ghost@example.com'") == "smtp; 550 5.1.1 no such mailbox");
  CHECK(ses.f.text("SELECT provider_event_id FROM events WHERE " + testing::json_field("data", "recipient") + " = 'ghost@example.com'") ==
        "ses:multi-1:ghost@example.com");
  CHECK(ses.f.text("SELECT " + testing::json_field("e.data", "reason") + " FROM events e JOIN contacts c ON c.id = e.contact_id "
                   "WHERE c.email = 'bob@example.com'") == "smtp; 550 5.1.1 user unknown");
  // The Message-ID of a multi-recipient message is not used: bob is found by address.
  CHECK(ses.f.count("SELECT count(*) FROM events WHERE contact_id = " +
                    std::to_string(ses.f.contact_ids["bob@example.com"])) == 1);
  CHECK(ses.f.contact_status("bob@example.com") == "bounced");
  CHECK(ses.f.suppressed("ghost@example.com"));  // not a contact of ours, still never mailed
  r = ses.send(ses.sign(envelope));
  CHECK(json_of(r)["duplicates"] == 2);
}

TEST_CASE("ses: SignatureVersion 1 (SHA1) verifies too; SNS redelivery is a duplicate") {
  Ses ses;
  auto envelope = ses.notification("ses_complaint.json", "1");
  auto r = ses.send(envelope);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  r = ses.send(envelope);
  REQUIRE(r.status == 200);
  CHECK(json_of(r)["duplicates"] == 1);
  CHECK(ses.f.events("complained") == 1);
}

TEST_CASE("ses: forged or altered notifications get 401") {
  Ses ses;
  auto good = ses.notification("ses_bounce_permanent.json");

  json altered = good;
  altered["Message"] = util::replace_all(altered["Message"].get<std::string>(), "Permanent", "Transient");
  CHECK(ses.send(altered).status == 401);

  json other_topic = good;
  other_topic["TopicArn"] = "arn:aws:sns:us-east-1:999999999999:other";
  CHECK(ses.send(other_topic).status == 401);

  RsaCertificate stranger(ses.f.tmp, "stranger");
  json forged = good;
  forged["Signature"] = stranger.sign(sns_canonical_string(good).value(), EVP_sha256());
  auto r = ses.send(forged);
  CHECK(r.status == 401);
  CHECK(json_of(r)["error"] == "bad signature");

  json bad_url = good;
  bad_url["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem";
  r = ses.send(bad_url);
  CHECK(r.status == 401);
  CHECK(json_of(r)["error"].get<std::string>().find("SigningCertURL") != std::string::npos);

  json version = good;
  version["SignatureVersion"] = "3";
  CHECK(ses.send(version).status == 401);

  json unsigned_one = good;
  unsigned_one.erase("Signature");
  CHECK(ses.send(unsigned_one).status == 401);

  CHECK(ses.f.count("SELECT count(*) FROM events") == 0);
  CHECK(ses.f.contact_status("bob@example.com") == "subscribed");
}

TEST_CASE("ses: a Message that is not JSON gets 400") {
  Ses ses;
  json envelope = {{"Type", "Notification"}, {"MessageId", "m-bad"}, {"TopicArn", kTopic},
                   {"Message", "{\"eventType\": \"Bounce\""}, {"Timestamp", "2023-11-14T22:20:00.000Z"}};
  auto r = ses.send(ses.sign(envelope));
  CHECK(r.status == 400);
  CHECK(json_of(r)["error"].get<std::string>().starts_with("$.Message is not JSON"));
  CHECK(ses.send(json{{"Type", "Notification"}}).status == 401);  // unsigned: refused before mapping
  CHECK(ses.service.handle("ses", post("not json")).status == 400);
}

TEST_CASE("ses: subscription confirmation is logged, and followed only when allowed") {
  Ses ses;
  std::vector<std::string> followed;
  ses.service.set_subscription_confirmer([&](const std::string& url) -> Status {
    followed.push_back(url);
    return {};
  });
  const std::string url =
      "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + kTopic + "&Token=2336412f37fb";
  auto r = ses.send(ses.subscription(url));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(json_of(r)["subscription"] == "logged");
  CHECK(followed.empty());

  // A forged confirmation is refused before anything else.
  auto forged = ses.subscription(url);
  forged["Token"] = "other";
  CHECK(ses.send(forged).status == 401);

  // UnsubscribeConfirmation: noted, nothing recorded.
  auto unsub = ses.subscription(url);
  unsub["Type"] = "UnsubscribeConfirmation";
  r = ses.send(ses.sign(unsub));
  CHECK(r.status == 200);
  CHECK(ses.f.count("SELECT count(*) FROM events") == 0);
}

TEST_CASE("ses: confirm_subscriptions follows only https amazonaws.com URLs") {
  Fixture f;
  RsaCertificate cert(f.tmp);
  std::string yaml = read_text(source_dir() / "webhooks/ses.yaml");
  yaml = util::replace_all(yaml, "  confirm_subscriptions: false",
                           "  confirm_subscriptions: true\n  certificate_file: " + cert.cert_path() +
                               "\n  topic_arns: [" + kTopic + "]");
  f.write_adapter("ses.yaml", yaml);
  ::unsetenv("CAMPAIGND_WEBHOOK_SES_SECRET");
  auto service = f.load();
  REQUIRE(f.load_errors.empty());
  std::vector<std::string> followed;
  bool fail_next = false;
  service.set_subscription_confirmer([&](const std::string& url) -> Status {
    followed.push_back(url);
    if (fail_next) return fail("connection refused");
    return {};
  });
  Ses helper_signer;  // only for its sign(): same shape, its own key
  auto sign = [&](json envelope) {
    envelope["SignatureVersion"] = "2";
    envelope["SigningCertURL"] = kCertUrl;
    envelope["Signature"] = cert.sign(sns_canonical_string(envelope).value(), EVP_sha256());
    return envelope;
  };
  auto confirmation = [&](const std::string& url) {
    auto e = helper_signer.subscription(url);
    return sign(e);
  };
  auto send = [&](const json& e) { return service.handle("ses", post(e.dump())); };

  const std::string good = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc";
  auto r = send(confirmation(good));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(json_of(r)["subscription"] == "confirmed");
  REQUIRE(followed.size() == 1);
  CHECK(followed[0] == good);

  for (const std::string bad : {"http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
                                "https://sns.eu-west-1.amazonaws.com.attacker.example/confirm",
                                "https://amazonaws.com@attacker.example/confirm",
                                "https://attacker.example/?sns.amazonaws.com", "file:///etc/passwd", "not a url"}) {
    CAPTURE(bad);
    r = send(confirmation(bad));
    CHECK(r.status == 400);
  }
  CHECK(followed.size() == 1);

  fail_next = true;
  r = send(confirmation(good));
  CHECK(r.status == 503);  // SNS retries the confirmation

  // topic_arns in the yaml: another topic is refused even when AWS signed it.
  auto elsewhere = helper_signer.subscription(good);
  elsewhere["TopicArn"] = "arn:aws:sns:us-east-1:999999999999:theirs";
  CHECK(send(sign(elsewhere)).status == 401);
}

TEST_CASE("ses: without a certificate every post is refused") {
  Fixture f;
  f.install("ses");
  ::unsetenv("CAMPAIGND_WEBHOOK_SES_SECRET");
  auto service = f.load();
  auto r = service.handle("ses", post("{}"));
  CHECK(r.status == 401);
  CHECK(json_of(r)["error"].get<std::string>().starts_with("webhook secret not configured"));

  Fixture g;
  g.install("ses");
  ScopedEnv secret("CAMPAIGND_WEBHOOK_SES_SECRET", g.tmp.file("no-such.pem"));
  auto other = g.load();
  CHECK(g.load_errors.size() == 1);
  CHECK(other.handle("ses", post("{}")).status == 401);
}

TEST_CASE("sns: which URLs count as AWS") {
  CHECK(is_amazonaws_https_url("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"));
  CHECK(is_amazonaws_https_url("HTTPS://SNS.US-EAST-1.AMAZONAWS.COM/x.pem"));
  CHECK_FALSE(is_amazonaws_https_url("https://amazonaws.com/"));
  CHECK_FALSE(is_amazonaws_https_url("http://sns.us-east-1.amazonaws.com/"));
  CHECK_FALSE(is_amazonaws_https_url("https://sns.us-east-1.amazonaws.com.evil.example/"));
  CHECK_FALSE(is_amazonaws_https_url("https://user:pw@sns.us-east-1.amazonaws.com/"));
  CHECK_FALSE(is_amazonaws_https_url("https://evilamazonaws.com/"));
  CHECK_FALSE(is_amazonaws_https_url(""));
}
