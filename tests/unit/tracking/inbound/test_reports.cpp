// DSN (RFC 3464) and ARF (RFC 5965) samples, read and classified.
#include <doctest/doctest.h>

#include "daemon/tracking/inbound/arf_parser.hpp"
#include "daemon/tracking/inbound/bounce_classifier.hpp"
#include "daemon/tracking/inbound/dsn_parser.hpp"
#include "tests/unit/tracking/inbound/inbound_test_support.hpp"

using namespace campaignd;
using namespace campaignd::tracking::inbound;

namespace {
BounceClass classify_first(const DeliveryReport& r) {
  REQUIRE_FALSE(r.recipients.empty());
  const auto& x = r.recipients.front();
  return classify_bounce(x.status, x.diagnostic_code, x.action).klass;
}
}  // namespace

TEST_CASE("dsn: Postfix, host not found") {
  auto m = inbound_testing::parse_sample("postfix_host_not_found.eml");
  CHECK(is_delivery_report(m));
  CHECK_FALSE(is_feedback_report(m));
  auto r = parse_dsn(m);
  REQUIRE(r);
  CHECK(r->rfc3464);
  CHECK(r->reporting_mta == "mail.acme.example");
  REQUIRE(r->recipients.size() == 1);
  CHECK(r->recipients[0].final_recipient == "alice@no-such-domain.example");
  CHECK(r->recipients[0].action == "failed");
  CHECK(r->recipients[0].status == "5.4.4");
  CHECK(r->recipients[0].diagnostic_code.find("Name service error for name=no-such-domain.example") != std::string::npos);
  CHECK(r->original_message_id == "cd.1.1001.7f3a@acme.example");
  CHECK(classify_first(*r) == BounceClass::hard);
}

TEST_CASE("dsn: Exchange 5.1.1 with text/rfc822-headers, CRLF") {
  auto m = inbound_testing::parse_sample("exchange_user_unknown.eml");
  auto r = parse_dsn(m);
  REQUIRE(r);
  REQUIRE(r->recipients.size() == 1);
  CHECK(r->recipients[0].final_recipient == "bob@contoso.example");
  CHECK(r->recipients[0].status == "5.1.1");
  CHECK(r->recipients[0].diagnostic_code == "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound; not found");
  CHECK(r->original_message_id == "cd.1.1002.8e4b@acme.example");
  CHECK(r->original_recipients == std::vector<std::string>{"bob@contoso.example"});
  CHECK(classify_first(*r) == BounceClass::hard);
  // The human part was quoted-printable.
  CHECK(text_body(m.root).find("recipient's email address") != std::string::npos);
}

TEST_CASE("dsn: delayed 4.2.2 mailbox full, and the final failure after the queue lifetime") {
  auto delayed = parse_dsn(inbound_testing::parse_sample("postfix_delayed_mailbox_full.eml"));
  REQUIRE(delayed);
  REQUIRE(delayed->recipients.size() == 1);
  CHECK(delayed->recipients[0].action == "delayed");
  CHECK(delayed->recipients[0].status == "4.2.2");
  CHECK(delayed->recipients[0].remote_mta == "mx.example.org");
  CHECK(delayed->original_message_id == "cd.1.1003.9c5d@acme.example");
  CHECK(classify_first(*delayed) == BounceClass::soft);

  auto expired = parse_dsn(inbound_testing::parse_sample("postfix_expired_mailbox_full.eml"));
  REQUIRE(expired);
  CHECK(expired->recipients[0].action == "failed");
  CHECK(classify_first(*expired) == BounceClass::soft);
}

TEST_CASE("dsn: 5.7.1 policy block") {
  auto r = parse_dsn(inbound_testing::parse_sample("outlook_policy_block_571.eml"));
  REQUIRE(r);
  REQUIRE(r->recipients.size() == 1);
  CHECK(r->recipients[0].final_recipient == "dan@outlook.example");
  CHECK(r->recipients[0].diagnostic_code.find("block list (S3150)") != std::string::npos);
  CHECK(r->original_message_id == "cd.1.1004.ad6e@acme.example");
  CHECK(classify_first(*r) == BounceClass::policy);
}

TEST_CASE("dsn: not a DSN, several recipients, no per-message group, plain-text bounces") {
  CHECK_FALSE(parse_dsn(inbound_testing::parse_sample("gmail_reply.eml")));
  CHECK_FALSE(parse_dsn(inbound_testing::parse_sample("yahoo_arf_abuse.eml")));

  auto multi = parse_message(
      "From: MAILER-DAEMON@x\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
      "--B\nContent-Type: message/delivery-status\n\n"
      "Final-Recipient: rfc822; one@example.com\nAction: failed\nStatus: 5.1.1\n\n\n"
      "Final-Recipient: rfc822; two@example.com\nAction: delayed\nStatus: 4.4.1\n\n"
      "Final-Recipient: rfc822; three@example.com\nAction: relayed\nStatus: 2.0.0\n--B--\n");
  REQUIRE(multi);
  auto r = parse_dsn(*multi);
  REQUIRE(r);
  REQUIRE(r->recipients.size() == 3);
  CHECK(r->recipients[0].final_recipient == "one@example.com");
  CHECK(r->recipients[1].action == "delayed");
  CHECK(r->recipients[2].action == "relayed");
  CHECK_FALSE(r->original_message_id);

  // Exim style: no report, but X-Failed-Recipients and the returned headers quoted as text.
  auto exim = parse_message(
      "From: Mail Delivery System <Mailer-Daemon@mx.example>\nX-Failed-Recipients: gone@example.net\n"
      "Subject: Mail delivery failed: returning message to sender\n\n"
      "This message was created automatically by mail delivery software.\n\n"
      "  gone@example.net\n    host mx.example.net [192.0.2.1]\n    SMTP error from remote mail server after RCPT "
      "TO:<gone@example.net>:\n    550 5.1.1 <gone@example.net>: Recipient address rejected: User unknown\n\n"
      "------ This is a copy of the message, including all the headers. ------\n\n"
      "Message-ID: <cd.9.9.x@acme.example>\nSubject: hello\n");
  REQUIRE(exim);
  auto e = parse_dsn(*exim);
  REQUIRE(e);
  CHECK_FALSE(e->rfc3464);
  REQUIRE(e->recipients.size() == 1);
  CHECK(e->recipients[0].final_recipient == "gone@example.net");
  CHECK(e->recipients[0].status == "5.1.1");
  CHECK(e->original_message_id == "cd.9.9.x@acme.example");
  CHECK(classify_first(*e) == BounceClass::hard);

  // A report part that is garbage yields no recipients, and no crash.
  auto junk = parse_message(
      "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\n"
      "Content-Type: message/delivery-status\n\n\x01\x02 not fields\n\n:::\n--B--\n");
  REQUIRE(junk);
  auto j = parse_dsn(*junk);
  REQUIRE(j);
  CHECK(j->recipients.empty());
}

TEST_CASE("arf: Yahoo abuse report") {
  auto m = inbound_testing::parse_sample("yahoo_arf_abuse.eml");
  CHECK(is_feedback_report(m));
  auto r = parse_arf(m);
  REQUIRE(r);
  CHECK(r->feedback_type == "abuse");
  CHECK(r->is_complaint());
  CHECK(r->user_agent == "Yahoo!-Mail-Feedback/2.0");
  CHECK(r->version == "0.1");
  CHECK(r->original_rcpt_to == std::vector<std::string>{"erin@yahoo.example"});
  CHECK(r->original_mail_from == "news@acme.example");
  CHECK(r->original_message_id == "cd.1.1005.be7f@acme.example");
  CHECK(r->original_to == std::vector<std::string>{"erin@yahoo.example"});
}

TEST_CASE("arf: other feedback types, headers-only originals, malformed reports") {
  auto notspam = parse_message(
      "Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n--F\nContent-Type: text/plain\n\nx\n"
      "--F\nContent-Type: message/feedback-report\n\nFeedback-Type: not-spam\nVersion: 1\n"
      "--F\nContent-Type: text/rfc822-headers\n\nMessage-ID: <orig@acme.example>\nTo: z@example.com\n--F--\n");
  REQUIRE(notspam);
  auto r = parse_arf(*notspam);
  REQUIRE(r);
  CHECK_FALSE(r->is_complaint());
  CHECK(r->original_message_id == "orig@acme.example");
  CHECK(r->original_rcpt_to.empty());
  CHECK(r->original_to == std::vector<std::string>{"z@example.com"});

  auto missing = parse_message("Content-Type: multipart/report; report-type=feedback-report; boundary=F\n\n--F\n\nx\n--F--\n");
  REQUIRE(missing);
  CHECK_FALSE(parse_arf(*missing));
  CHECK_FALSE(parse_arf(inbound_testing::parse_sample("exchange_user_unknown.eml")));
}
