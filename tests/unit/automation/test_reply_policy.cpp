// RFC 3834: whom an autoresponder answers, and the threading its answer carries.
#include <doctest/doctest.h>

#include "daemon/automation/reply_policy.hpp"

using namespace campaignd::automation;
using nlohmann::json;

TEST_CASE("decide_auto_reply refuses automatic, list and system mail") {
  const std::set<std::string> ours = {"support@acme.example"};
  auto answer = [&](const json& data) { return decide_auto_reply(data, "ann@example.com", ours); };
  auto ok = answer({{"from", "Ann <Ann@Example.COM>"}});
  CHECK(ok.answer);
  CHECK(ok.sender == "ann@example.com");
  CHECK(answer(json::object()).answer);  // the contact's address
  CHECK(answer({{"auto_submitted", "no"}}).answer);
  CHECK(!answer({{"auto_submitted", "auto-replied"}}).answer);
  CHECK(!answer({{"auto_submitted", "auto-generated"}}).answer);
  CHECK(!answer({{"auto_reason", "Precedence: bulk"}}).answer);
  CHECK(!answer({{"precedence", "bulk"}}).answer);
  CHECK(!answer({{"precedence", "junk"}}).answer);
  CHECK(!answer({{"precedence", "list"}}).answer);
  CHECK(!answer({{"list", true}}).answer);
  CHECK(answer({{"list", false}}).answer);
  CHECK(!answer({{"list_id", "<news.acme.example>"}}).answer);
  CHECK(!answer({{"x_auto_response_suppress", "All"}}).answer);
  CHECK(!answer({{"return_path", "<>"}}).answer);
  CHECK(!answer({{"return_path", ""}}).answer);
  CHECK(answer({{"return_path", "<ann@example.com>"}}).answer);
  for (const char* sender : {"MAILER-DAEMON@example.com", "postmaster@example.com", "owner-list@example.com",
                             "list-request@example.com", "noreply@example.com", "support@acme.example",
                             "Support <SUPPORT@acme.example>", "not an address"}) {
    CAPTURE(sender);
    CHECK(!answer({{"from", sender}}).answer);
  }
  CHECK(!decide_auto_reply(json::object(), "", ours).answer);  // no sender at all
}

TEST_CASE("auto_reply_context threads the answer") {
  auto c = auto_reply_context({{"message_id", "q1@mail.example"}, {"references", "<a@x> <b@x>"}, {"subject", "Hello"}});
  CHECK(c["auto_submitted"] == "auto-replied");
  CHECK(c["in_reply_to"] == "<q1@mail.example>");
  CHECK(c["references"] == "<a@x> <b@x> <q1@mail.example>");
  CHECK(c["subject"] == "Re: Hello");
  CHECK(c["original_subject"] == "Hello");
  c = auto_reply_context({{"subject", "RE: Hello\r\nBcc: x@y"}});
  CHECK(!c.contains("in_reply_to"));
  CHECK(!c.contains("references"));
  CHECK(c["subject"].get<std::string>().find('\n') == std::string::npos);
  CHECK(c["subject"].get<std::string>().starts_with("RE: Hello"));
  c = auto_reply_context({{"message_id", "<m@x>"}, {"references", "<m@x>"}});
  CHECK(c["references"] == "<m@x>");  // not repeated
}
