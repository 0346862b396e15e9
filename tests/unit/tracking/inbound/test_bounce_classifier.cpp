// Hard, soft, policy: RFC 3463 codes, basic SMTP codes and the phrases servers use.
#include <doctest/doctest.h>

#include "daemon/tracking/inbound/bounce_classifier.hpp"

using namespace campaignd::tracking::inbound;

namespace {
BounceClass cls(std::string_view status, std::string_view diag, std::string_view action = "failed") {
  return classify_bounce(status, diag, action).klass;
}
}  // namespace

TEST_CASE("bounce classifier: finding codes") {
  auto c = find_enhanced_code("smtp; 550-5.1.1 The email account does not exist");
  REQUIRE(c);
  CHECK(c->text() == "5.1.1");
  CHECK(find_enhanced_code("4.2.2")->text() == "4.2.2");
  CHECK(find_enhanced_code("5.1.10 RESOLVER")->detail == 10);
  CHECK_FALSE(find_enhanced_code("from 192.168.5.1.2 host"));
  CHECK_FALSE(find_enhanced_code("version 15.5.1"));
  CHECK_FALSE(find_enhanced_code("3.1.1"));
  CHECK_FALSE(find_enhanced_code(""));
  CHECK(find_basic_code("smtp; 550 5.1.1 user unknown") == 550);
  CHECK(find_basic_code("452-4.2.2 over quota") == 452);
  CHECK_FALSE(find_basic_code("X-Postfix; host not found"));
  CHECK_FALSE(find_basic_code("5501 nope"));
}

TEST_CASE("bounce classifier: RFC 3463 subjects") {
  CHECK(cls("5.1.1", "") == BounceClass::hard);
  CHECK(cls("5.1.2", "") == BounceClass::hard);
  CHECK(cls("5.1.10", "smtp;550 5.1.10 RESOLVER.ADR.RecipientNotFound") == BounceClass::hard);
  CHECK(cls("5.1.8", "") == BounceClass::policy);  // our sender's domain, not the recipient
  CHECK(cls("5.2.1", "") == BounceClass::hard);
  CHECK(cls("5.2.2", "") == BounceClass::soft);
  CHECK(cls("5.4.4", "") == BounceClass::hard);
  CHECK(cls("5.4.7", "") == BounceClass::soft);
  CHECK(cls("5.3.4", "message too big") == BounceClass::soft);
  CHECK(cls("5.6.0", "") == BounceClass::policy);
  CHECK(cls("5.7.1", "") == BounceClass::policy);
  CHECK(cls("5.7.26", "unauthenticated email") == BounceClass::policy);
  CHECK(cls("4.2.2", "") == BounceClass::soft);
  CHECK(cls("4.4.1", "connection timed out") == BounceClass::soft);
  CHECK(cls("4.7.28", "rate limited") == BounceClass::policy);
  CHECK(cls("2.0.0", "", "delivered") == BounceClass::unknown);
}

TEST_CASE("bounce classifier: the diagnostic refines a vague status") {
  CHECK(cls("5.0.0", "smtp; 550 5.1.1 <a@b>: Recipient address rejected: User unknown") == BounceClass::hard);
  CHECK(cls("5.0.0", "smtp; 550 Requested action not taken: mailbox unavailable") == BounceClass::hard);
  CHECK(cls("5.0.0", "smtp; 554 rejected because of bad reputation") == BounceClass::policy);
  CHECK(cls("5.0.0", "smtp; 552 Mailbox full") == BounceClass::soft);
  CHECK(cls("5.5.0", "550 5.5.0 Requested action not taken: mailbox unavailable") == BounceClass::hard);
  CHECK(cls("5.2.0", "552 5.2.2 Quota exceeded") == BounceClass::soft);
  CHECK(cls("", "smtp; 550 5.1.1 The email account that you tried to reach does not exist") == BounceClass::hard);
  CHECK(cls("", "452 4.2.2 The email account that you tried to reach is over quota") == BounceClass::soft);
  CHECK(cls("", "554 5.7.1 Service unavailable; Client host [203.0.113.5] blocked using zen.spamhaus.org") ==
        BounceClass::policy);
  CHECK(cls("", "550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent ... block list (S3150)") ==
        BounceClass::policy);
  // A code that says the mailbox is bad wins over a word that sounds like policy.
  CHECK(cls("5.1.1", "550 5.1.1 user unknown (see our policy at https://x)") == BounceClass::hard);
  // Short acronyms only count as words.
  CHECK(cls("5.0.0", "550 garbled name: mailbox unavailable") == BounceClass::hard);
  CHECK(cls("5.0.0", "550 rejected: listed on an RBL") == BounceClass::policy);
}

TEST_CASE("bounce classifier: basic SMTP codes without enhanced ones") {
  CHECK(cls("", "smtp; 550 no") == BounceClass::hard);
  CHECK(cls("", "smtp; 552 too much") == BounceClass::soft);
  CHECK(cls("", "smtp; 554 transaction failed") == BounceClass::hard);
  CHECK(cls("", "smtp; 421 try later") == BounceClass::soft);
  CHECK(cls("", "smtp; 451 local error") == BounceClass::soft);
  auto v = classify_bounce("", "smtp; 550 no", "failed");
  CHECK(v.code == "550");
}

TEST_CASE("bounce classifier: action and missing information") {
  CHECK(cls("", "", "delayed") == BounceClass::soft);
  CHECK(cls("5.1.1", "", "delayed") == BounceClass::soft);  // a delay is never final
  CHECK(cls("", "", "failed") == BounceClass::unknown);
  CHECK(cls("", "X-Postfix; Host or domain name not found", "failed") == BounceClass::hard);
  CHECK(cls("garbage", "garbage", "") == BounceClass::unknown);
  CHECK(to_string(BounceClass::policy) == "policy");
}
