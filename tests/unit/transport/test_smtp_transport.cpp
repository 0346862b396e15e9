// Tests for SMTP delivery against the real test server (tests/support/smtp_server.py):
// exact bytes, connection reuse, and every way a send can go wrong.
#include <doctest/doctest.h>

#include <chrono>

#include "daemon/transport/smtp_transport.hpp"
#include "tests/unit/transport/transport_test_support.hpp"

using namespace campaignd::transport;
using campaignd::transport::testing::closed_port;
using campaignd::transport::testing::read_file;
using campaignd::transport::testing::SmtpTestServer;

namespace {

std::unique_ptr<Session> session_for(const std::string& url, int timeout_seconds = 5) {
  auto transport = make_transport({.url = url, .timeout_seconds = timeout_seconds});
  REQUIRE(transport);
  auto session = (*transport)->open_session();
  REQUIRE(session);
  return std::move(*session);
}

std::string message(int n) {
  auto id = std::to_string(n);
  return "From: News <news@acme.example>\r\n"
         "To: <r" + id + "@example.com>\r\n"
         "Message-ID: <" + id + "@test.acme.example>\r\n"
         "Subject: message " + id + "\r\n"
         "\r\n"
         ".leading dot line " + id + "\r\n"
         ".\r\n"
         "..\r\n"
         "a line in the middle\r\n"
         ". \r\n"
         ".\r\n";
}

const Envelope ok_envelope{"bounce@acme.example", "ok@example.com"};
const std::string small = "Subject: x\r\nMessage-ID: <x@test>\r\n\r\nbody\r\n";

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("smtp: 200 messages over one session arrive once each, byte for byte, on one connection") {
  SmtpTestServer server;
  auto session = session_for(server.url());
  for (int i = 0; i < 200; ++i) {
    auto result = session->send({"bounce@acme.example", "r" + std::to_string(i) + "@example.com"}, message(i));
    REQUIRE_MESSAGE(result.outcome == Outcome::sent, result.reply);
    CHECK(result.code == 250);
    CHECK(result.enhanced == "2.0.0");
  }
  auto stats = server.stats();
  CHECK(stats["connections"] == 1);
  CHECK(stats["messages"] == 200);
  auto log = server.log();
  REQUIRE(log.size() == 200);
  for (int i = 0; i < 200; ++i) {
    auto rcpt = "r" + std::to_string(i) + "@example.com";
    CAPTURE(rcpt);
    CHECK(server.accepted(rcpt) == 1);
    const auto& entry = log[static_cast<size_t>(i)];
    CHECK(entry["rcpt_tos"] == nlohmann::json::array({rcpt}));
    CHECK(entry["mail_from"] == "bounce@acme.example");
    CHECK(entry["connection"] == 1);
    CHECK(entry["message_id"] == "<" + std::to_string(i) + "@test.acme.example>");
    CHECK(read_file(server.out_dir() / entry["file"].get<std::string>()) == message(i));
  }
}

TEST_CASE("smtp: 4xx is retry with code, enhanced code and text; the session then reconnects") {
  SmtpTestServer server({"temp@*=451", "once@*=451x1"});
  auto session = session_for(server.url());
  auto result = session->send({"bounce@acme.example", "temp@example.com"}, small);
  CHECK(result.outcome == Outcome::retry);
  CHECK(result.code == 451);
  CHECK(result.enhanced == "4.3.0");
  CHECK(result.reply.find("Temporary local problem") != std::string::npos);

  auto first = session->send({"bounce@acme.example", "once@example.com"}, small);
  CHECK(first.outcome == Outcome::retry);
  auto second = session->send({"bounce@acme.example", "once@example.com"}, small);
  CHECK(second.outcome == Outcome::sent);
  CHECK(server.accepted("once@example.com") == 1);
  CHECK(server.accepted("temp@example.com") == 0);
  // Each error closed the connection; the success after it opened a new one.
  CHECK(server.connections() == 3);
}

TEST_CASE("smtp: 5xx at RCPT TO or after the data is failed, with the server's text") {
  SmtpTestServer server({"bad@*=550/rcpt", "*@full.example=552"});
  auto session = session_for(server.url());
  auto unknown = session->send({"bounce@acme.example", "bad@example.com"}, small);
  CHECK(unknown.outcome == Outcome::failed);
  CHECK(unknown.code == 550);
  CHECK(unknown.enhanced == "5.1.1");
  CHECK(unknown.reply == "User unknown (test fault)");

  auto full = session->send({"bounce@acme.example", "ann@full.example"}, small);
  CHECK(full.outcome == Outcome::failed);
  CHECK(full.code == 552);
  CHECK(full.enhanced == "5.2.2");
  CHECK(full.reply.find("Mailbox full") != std::string::npos);

  CHECK(session->send(ok_envelope, small).outcome == Outcome::sent);
  CHECK(server.stats()["messages"] == 1);
}

TEST_CASE("smtp: a connection dropped after the data, or a 421, is retry; the session recovers") {
  SmtpTestServer server({"drop@*=drop", "421@*=421"});
  auto session = session_for(server.url());
  auto dropped = session->send({"bounce@acme.example", "drop@example.com"}, small);
  CHECK(dropped.outcome == Outcome::retry);
  CHECK(dropped.code == 0);
  CHECK_FALSE(dropped.reply.empty());
  CHECK(session->send(ok_envelope, small).outcome == Outcome::sent);

  auto closing = session->send({"bounce@acme.example", "421@example.com"}, small);
  CHECK(closing.outcome == Outcome::retry);
  CHECK(closing.code == 421);
  CHECK(closing.enhanced == "4.3.2");
  CHECK(session->send(ok_envelope, small).outcome == Outcome::sent);
  CHECK(server.accepted("ok@example.com") == 2);
  CHECK(server.accepted("drop@example.com") == 0);
}

TEST_CASE("smtp: a refused connection is retry") {
  auto session = session_for("smtp://127.0.0.1:" + std::to_string(closed_port()));
  auto result = session->send(ok_envelope, small);
  CHECK(result.outcome == Outcome::retry);
  CHECK(result.code == 0);
  CHECK_FALSE(result.reply.empty());
}

TEST_CASE("smtp: a server that stalls after the data is retry once the timeout passes") {
  SmtpTestServer server({"slow@*=stall:30"});
  auto session = session_for(server.url(), 1);
  auto start = std::chrono::steady_clock::now();
  auto result = session->send({"bounce@acme.example", "slow@example.com"}, small);
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(result.outcome == Outcome::retry);
  CHECK(result.reply.find("may have it") != std::string::npos);
  CHECK(elapsed < std::chrono::seconds(3));  // the timeout, not twice it (see drop_connection)
  CHECK(session->send(ok_envelope, small).outcome == Outcome::sent);
}

TEST_CASE("smtp: an envelope that would inject protocol lines fails without a connection") {
  auto session = session_for("smtp://127.0.0.1:" + std::to_string(closed_port()));
  auto result = session->send({"bounce@acme.example", "a@example.com>\r\nRCPT TO:<b@example.com"}, small);
  CHECK(result.outcome == Outcome::failed);
  CHECK(result.code == 0);
}

TEST_CASE("smtp urls: ports, EHLO names and credentials; describe() never shows a password") {
  auto plain = parse_smtp_url({.url = "smtp://relay.example"});
  REQUIRE(plain);
  CHECK(plain->curl_url == "smtp://relay.example:25");
  CHECK_FALSE(plain->implicit_tls);

  auto tls = parse_smtp_url({.url = "smtps://user%40x:p%3Ass@relay.example:465/mail.acme.example"});
  REQUIRE(tls);
  CHECK(tls->curl_url == "smtps://relay.example:465/mail.acme.example");
  CHECK(tls->implicit_tls);
  CHECK(tls->username == "user@x");
  CHECK(tls->password == "p:ss");

  auto override = parse_smtp_url({.url = "smtp://u:p@127.0.0.1:2525", .username = "ses", .password = "secret"});
  REQUIRE(override);
  CHECK(override->username == "ses");
  CHECK(override->password == "secret");
  CHECK(override->loopback);

  auto v6 = parse_smtp_url({.url = "smtp://[::1]:2525", .timeout_seconds = 0});
  REQUIRE(v6);
  CHECK(v6->curl_url == "smtp://[::1]:2525");
  CHECK(v6->loopback);
  CHECK(v6->timeout_seconds == 1);

  auto transport = make_transport({.url = "smtp://user:hunter2@relay.example:587"});
  REQUIRE(transport);
  CHECK((*transport)->describe() == "smtp://relay.example:587");

  for (const char* bad : {"smtp://", "smtp://relay.example:99999", "smtp://relay.example:587?x=1",
                          "smtp://relay.example/a/b", "smtp://relay.example/bad name", "http://relay.example",
                          "smtp://user:hunter2@relay.example:abc"}) {
    CAPTURE(bad);
    auto parsed = parse_smtp_url({.url = bad});
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().find("hunter2") == std::string::npos);
  }
}

}  // TEST_SUITE
