// POST /webhooks/inbound end to end: raw and relay-shaped bodies through InboundService into a
// real temporary store, with the recorder's consequences (suppression) checked in the tables.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/inbound/inbound_service.hpp"
#include "daemon/tracking/inbound/reply_address.hpp"
#include "daemon/util/strings.hpp"
#include "tests/unit/tracking/inbound/inbound_test_support.hpp"
#include "tests/unit/tracking/json_sql.hpp"

using namespace campaignd;
using namespace campaignd::tracking::inbound;

namespace {

struct Fixture {
  inbound_testing::TempStore db;
  util::ManualClock clock{1772446800};
  tracking::TokenSigner signer{"inbound-test-key"};
  tracking::EventRecorder recorder{db.store(), clock};
  InboundService service{recorder, signer, db.store(), clock};

  nlohmann::json post_raw(const std::string& raw, int expect_status = 200) {
    http::HttpRequest req;
    req.method = "POST";
    req.path = "/webhooks/inbound";
    req.headers["content-type"] = "message/rfc822";
    req.body = raw;
    return send(req, expect_status);
  }
  nlohmann::json send(const http::HttpRequest& req, int expect_status = 200) {
    auto resp = service.handle(req);
    CHECK_MESSAGE(resp.status == expect_status, resp.body);
    auto body = nlohmann::json::parse(resp.body, nullptr, false);
    REQUIRE_FALSE(body.is_discarded());
    return body;
  }
  std::string event_data(const std::string& kind, const std::string& key) {
    return db.text("SELECT " + testing::json_field("data", key) + " FROM events WHERE kind = '" + kind + "' ORDER BY id DESC LIMIT 1");
  }
};

std::string with_message_id(std::string raw, const std::string& old_id, const std::string& new_id) {
  return util::replace_all(std::move(raw), old_id, new_id);
}

}  // namespace

TEST_CASE("inbound service: a 5.1.1 DSN bounces and suppresses the contact, once") {
  Fixture f;
  auto send_id = f.db.add_send("bob@contoso.example", "cd.1.1002.8e4b@acme.example");
  f.db.add_send("other@contoso.example", "cd.1.other@acme.example");
  auto raw = inbound_testing::sample("exchange_user_unknown.eml");

  auto r = f.post_raw(raw);
  CHECK(r["kind"] == "bounced");
  CHECK(r["matched"] == true);
  CHECK(r["duplicate"] == false);
  CHECK(f.db.contact_status("bob@contoso.example") == "bounced");
  CHECK(f.db.suppressed("bob@contoso.example"));
  CHECK_FALSE(f.db.suppressed("other@contoso.example"));
  CHECK(f.db.number("SELECT send_id FROM events WHERE kind = 'bounced'") == send_id);
  CHECK(f.event_data("bounced", "bounce_type") == "hard");
  CHECK(f.event_data("bounced", "status") == "5.1.1");
  CHECK(f.db.text("SELECT provider_event_id FROM events WHERE kind = 'bounced'") ==
        "inbound:7a1b2c3d-4e5f-4a0b-9c8d-7e6f5a4b3c2d@contoso.example");

  auto again = f.post_raw(raw);
  CHECK(again["duplicate"] == true);
  CHECK(f.db.events("bounced") == 1);
}

TEST_CASE("inbound service: Postfix DSN for an unknown domain is a hard bounce") {
  Fixture f;
  f.db.add_send("alice@no-such-domain.example", "cd.1.1001.7f3a@acme.example");
  auto r = f.post_raw(inbound_testing::sample("postfix_host_not_found.eml"));
  CHECK(r["kind"] == "bounced");
  CHECK(f.db.suppressed("alice@no-such-domain.example"));
}

TEST_CASE("inbound service: an ARF abuse report is a complaint and suppresses") {
  Fixture f;
  f.db.add_send("erin@yahoo.example", "cd.1.1005.be7f@acme.example");
  auto r = f.post_raw(inbound_testing::sample("yahoo_arf_abuse.eml"));
  CHECK(r["kind"] == "complained");
  CHECK(r["matched"] == true);
  CHECK(f.db.contact_status("erin@yahoo.example") == "complained");
  CHECK(f.db.suppressed("erin@yahoo.example"));
  CHECK(f.event_data("complained", "feedback_type") == "abuse");
  CHECK(f.db.number("SELECT count(*) FROM events WHERE kind = 'complained' AND send_id IS NOT NULL") == 1);
}

TEST_CASE("inbound service: three soft bounces suppress with the default limit, delays never do") {
  Fixture f;
  f.db.add_send("carol@example.org", "cd.1.1003.9c5d@acme.example");
  auto delayed = inbound_testing::sample("postfix_delayed_mailbox_full.eml");
  for (int i = 0; i < 3; ++i) {
    auto r = f.post_raw(with_message_id(delayed, "20260303142000.9A1B2C3D4E", "delay-" + std::to_string(i)));
    CHECK(r["kind"] == "deferred");
  }
  CHECK(f.db.events("deferred") == 3);
  CHECK_FALSE(f.db.suppressed("carol@example.org"));

  auto expired = inbound_testing::sample("postfix_expired_mailbox_full.eml");
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    CHECK_FALSE(f.db.suppressed("carol@example.org"));
    CHECK(f.db.contact_status("carol@example.org") == "subscribed");
    auto r = f.post_raw(with_message_id(expired, "20260308101502.9A1B2C3D4E", "expired-" + std::to_string(i)));
    CHECK(r["kind"] == "bounced");
    CHECK(r["duplicate"] == false);
  }
  CHECK(f.event_data("bounced", "bounce_type") == "soft");
  CHECK(f.db.events("bounced") == 3);
  CHECK(f.db.suppressed("carol@example.org"));
  CHECK(f.db.contact_status("carol@example.org") == "bounced");
}

TEST_CASE("inbound service: a 5.7.1 policy block is recorded as a soft bounce marked policy") {
  Fixture f;
  f.db.add_send("dan@outlook.example", "cd.1.1004.ad6e@acme.example");
  auto r = f.post_raw(inbound_testing::sample("outlook_policy_block_571.eml"));
  CHECK(r["kind"] == "bounced");
  CHECK(f.event_data("bounced", "bounce_type") == "soft");
  // A JSON true, which SQLite reads out as 1 and PostgreSQL as true: parsed.
  auto data = nlohmann::json::parse(f.db.text("SELECT data FROM events WHERE kind = 'bounced' ORDER BY id DESC LIMIT 1"));
  CHECK(data["policy"] == true);
  CHECK(f.event_data("bounced", "classification") == "policy");
  CHECK_FALSE(f.db.suppressed("dan@outlook.example"));
  CHECK(f.db.contact_status("dan@outlook.example") == "subscribed");
}

TEST_CASE("inbound service: replies matched by In-Reply-To, with snippet and subject") {
  Fixture f;
  auto send_id = f.db.add_send("frank@gmail.example", "cd.1.1006.cf80@acme.example");
  auto r = f.post_raw(inbound_testing::sample("gmail_reply.eml"));
  CHECK(r["kind"] == "replied");
  CHECK(r["matched"] == true);
  CHECK(r["matched_by"] == "in-reply-to");
  CHECK(f.db.number("SELECT send_id FROM events WHERE kind = 'replied'") == send_id);
  CHECK(f.event_data("replied", "snippet") == "Hi,\n\nDoes the discount also apply to the garden furniture?\n\nThanks,\nFrank");
  CHECK(f.event_data("replied", "subject") == "Re: Frank, 20% off this week");
  CHECK(f.db.contact_status("frank@gmail.example") == "subscribed");
  auto again = f.post_raw(inbound_testing::sample("gmail_reply.eml"));
  CHECK(again["duplicate"] == true);
  CHECK(f.db.events("replied") == 1);
}

TEST_CASE("inbound service: Outlook reply as JSON {raw}, UTF-8 reply as a Mailgun body-mime form") {
  Fixture f;
  f.db.add_send("grace@contoso.example", "cd.1.1007.d091@acme.example");
  f.db.add_send("juergen@web.example", "cd.1.1009.f2b3@acme.example");

  http::HttpRequest json;
  json.method = "POST";
  json.headers["content-type"] = "application/json; charset=utf-8";
  json.body = nlohmann::json{{"raw", inbound_testing::sample("outlook_reply.eml")}}.dump();
  auto r = f.send(json);
  CHECK(r["kind"] == "replied");
  CHECK(r["matched"] == true);
  CHECK(f.event_data("replied", "snippet").find("déjeuner") != std::string::npos);

  http::HttpRequest form;
  form.method = "POST";
  form.headers["content-type"] = "multipart/form-data; boundary=xyz";
  form.form.emplace("recipient", "news@acme.example");
  form.form.emplace("sender", "juergen@web.example");
  form.form.emplace("body-mime", inbound_testing::sample("multipart_utf8_reply.eml"));
  auto u = f.send(form);
  CHECK(u["kind"] == "replied");
  CHECK(u["matched"] == true);
  CHECK(f.event_data("replied", "subject") == "Re: Jürgen, 20 % Rabatt – gibt es Größe M?");
  CHECK(f.event_data("replied", "snippet").find("Größe M?") != std::string::npos);
  CHECK(f.event_data("replied", "snippet").find("Frühlingsangebot") == std::string::npos);
}

TEST_CASE("inbound service: an out-of-office is recorded as auto_replied, never as replied") {
  Fixture f;
  f.db.add_send("heidi@contoso.example", "cd.1.1008.e1a2@acme.example");
  auto r = f.post_raw(inbound_testing::sample("out_of_office.eml"));
  CHECK(r["kind"] == "auto_replied");
  CHECK(r["matched"] == true);
  CHECK(f.db.events("replied") == 0);
  CHECK(f.db.events("auto_replied") == 1);
  CHECK(f.event_data("auto_replied", "auto_reason") == "Auto-Submitted: auto-replied");
}

TEST_CASE("inbound service: matching by References, last first") {
  Fixture f;
  auto first = f.db.add_send("ivy@example.com", "cd.1.first@acme.example");
  auto second = f.db.add_send("ivy2@example.com", "cd.2.second@acme.example");
  auto r = f.post_raw(
      "From: Ivy <ivy@example.com>\nTo: news@acme.example\nSubject: Re: hello\nMessage-ID: <ivy-1@example.com>\n"
      "In-Reply-To: <somebody-else@elsewhere.example>\n"
      "References: <cd.1.first@acme.example> <cd.2.second@acme.example> <unknown@elsewhere.example>\n\nThanks!\n");
  CHECK(r["matched_by"] == "references");
  CHECK(f.db.number("SELECT send_id FROM events WHERE kind = 'replied'") == second);
  CHECK(second != first);
}

TEST_CASE("inbound service: matching by the per-send reply address, from headers or the relay's recipient") {
  Fixture f;
  auto send_id = f.db.add_send("jack@example.com", "cd.1.jack@acme.example");
  std::string address = reply_address("support@acme.example", send_id, f.signer);
  auto r = f.post_raw("From: someone.else@example.net\nTo: Acme <" + address +
                      ">\nSubject: question\nMessage-ID: <q1@example.net>\n\nIs it in stock?\n");
  CHECK(r["matched_by"] == "reply-address");
  CHECK(f.db.number("SELECT send_id FROM events WHERE kind = 'replied'") == send_id);

  // Mailgun without raw MIME: the parsed fields, the reply address only as the envelope recipient.
  http::HttpRequest form;
  form.headers["content-type"] = "application/x-www-form-urlencoded";
  form.form.emplace("recipient", address);
  form.form.emplace("sender", "someone.else@example.net");
  form.form.emplace("from", "Someone <someone.else@example.net>");
  form.form.emplace("subject", "Re: question");
  form.form.emplace("Message-Id", "<q2@example.net>");
  form.form.emplace("body-plain", "Second question\n\nOn Monday Acme wrote:\n> old");
  form.form.emplace("stripped-text", "Second question");
  form.form.emplace("message-headers", R"([["Subject", "Re: question"], ["Content-Type", "multipart/alternative; boundary=\"x\""]])");
  auto m = f.send(form);
  CHECK(m["matched_by"] == "reply-address");
  CHECK(f.event_data("replied", "snippet") == "Second question");
  CHECK(f.db.events("replied") == 2);

  // A forged token matches nothing.
  std::string forged = reply_address("support@acme.example", send_id, tracking::TokenSigner("wrong"));
  auto x = f.post_raw("From: someone.else@example.net\nTo: " + forged + "\nMessage-ID: <q3@example.net>\n\nhi\n");
  CHECK(x["matched"] == false);
  CHECK(f.db.events("replied") == 2);
}

TEST_CASE("inbound service: SendGrid Inbound Parse fields, sender fallback, unmatched replies") {
  Fixture f;
  auto send_id = f.db.add_send("kate@example.com", "cd.1.kate@acme.example");
  http::HttpRequest sg;
  sg.headers["content-type"] = "multipart/form-data; boundary=sg";
  sg.form.emplace("headers", "Message-ID: <sg-1@example.com>\nIn-Reply-To: <cd.1.kate@acme.example>\n"
                             "Subject: Re: offer\nFrom: kate@example.com\nContent-Type: text/plain; charset=iso-8859-1\n");
  sg.form.emplace("text", std::string("Tr\xe8s bien, merci.\n\n> quoted"));
  sg.form.emplace("charsets", R"({"text": "iso-8859-1", "subject": "UTF-8"})");
  sg.form.emplace("from", "kate@example.com");
  sg.form.emplace("to", "news@acme.example");
  sg.form.emplace("subject", "Re: offer");
  sg.form.emplace("envelope", R"({"to": ["news@acme.example"], "from": "kate@example.com"})");
  auto r = f.send(sg);
  CHECK(r["matched_by"] == "in-reply-to");
  CHECK(f.db.number("SELECT send_id FROM events WHERE kind = 'replied'") == send_id);
  CHECK(f.event_data("replied", "snippet") == "Très bien, merci.");

  // No identifiers at all: the sender's address is a known contact.
  auto s = f.post_raw("From: KATE@example.com\nSubject: new question\nMessage-ID: <k2@example.com>\n\nAnother one\n");
  CHECK(s["matched_by"] == "sender");
  CHECK(f.db.events("replied") == 2);

  // Nobody we know: answered, not recorded.
  auto n = f.post_raw("From: stranger@example.net\nSubject: hi\nMessage-ID: <z@example.net>\n\nhello\n");
  CHECK(n["kind"] == "replied");
  CHECK(n["matched"] == false);
  CHECK(n["events"] == 0);
  CHECK(f.db.events("replied") == 2);
}

TEST_CASE("inbound service: no Message-ID -> the content hash is the idempotency key") {
  Fixture f;
  f.db.add_send("leo@example.com", "cd.1.leo@acme.example");
  std::string raw = "From: leo@example.com\nIn-Reply-To: <cd.1.leo@acme.example>\nSubject: Re\n\nyes\n";
  CHECK(f.post_raw(raw)["duplicate"] == false);
  CHECK(f.post_raw(raw)["duplicate"] == true);
  CHECK(f.post_raw(raw + "and more\n")["duplicate"] == false);
  CHECK(f.db.events("replied") == 2);
  CHECK(f.db.text("SELECT provider_event_id FROM events LIMIT 1").rfind("inbound:sha256:", 0) == 0);
}

TEST_CASE("inbound service: unparseable bodies get 400 with a reason") {
  Fixture f;
  auto r = f.post_raw("no header in sight\njust words\n", 400);
  CHECK(r["error"].get<std::string>().find("not an RFC 5322 message") != std::string::npos);
  f.post_raw("", 400);

  http::HttpRequest bad_json;
  bad_json.headers["content-type"] = "application/json";
  bad_json.body = "{\"raw\": ";
  CHECK(f.send(bad_json, 400)["error"] == "body: invalid JSON");
  bad_json.body = R"({"raw": 5})";
  CHECK(f.send(bad_json, 400)["error"] == "field raw: expected a string");
  bad_json.body = "[1, 2]";
  f.send(bad_json, 400);
  bad_json.body = "{}";
  f.send(bad_json, 400);

  http::HttpRequest image;
  image.headers["content-type"] = "image/png";
  image.body = "\x89PNG";
  CHECK(f.send(image, 400)["error"].get<std::string>().find("unsupported Content-Type image/png") != std::string::npos);

  http::HttpRequest form;
  form.headers["content-type"] = "application/x-www-form-urlencoded";
  form.form.emplace("unrelated", "x");
  f.send(form, 400);
  form.form.emplace("message-headers", "not json");
  CHECK(f.send(form, 400)["error"].get<std::string>().find("message-headers") != std::string::npos);
  CHECK(f.db.number("SELECT count(*) FROM events") == 0);
}

TEST_CASE("inbound service: a store failure is a 503") {
  Fixture f;
  f.db.add_send("bob@contoso.example", "cd.1.1002.8e4b@acme.example");
  auto dropped = f.db.store().writer().run([](const store::Database& db) { return db.exec("DROP TABLE events"); });
  REQUIRE(dropped);
  auto r = f.post_raw(inbound_testing::sample("exchange_user_unknown.eml"), 503);
  CHECK(r["error"] == "database unavailable");
  CHECK_FALSE(f.db.suppressed("bob@contoso.example"));
}
