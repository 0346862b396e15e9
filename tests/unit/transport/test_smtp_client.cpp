// Tests for what our own SMTP client does beyond the basics in test_smtp_transport.cpp:
// dot-stuffing, PIPELINING, STARTTLS (opportunistic and verified), smtps://, AUTH, and
// connections the server closed while they sat idle. All against the real test server.
#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>

#include "daemon/transport/smtp_transport.hpp"
#include "tests/unit/transport/transport_test_support.hpp"

using namespace campaignd::transport;
using campaignd::transport::testing::read_file;
using campaignd::transport::testing::SmtpTestServer;
using campaignd::transport::testing::TempDir;

namespace {

const Envelope ok_envelope{"bounce@acme.example", "ok@example.com"};
const std::string small = "Subject: x\r\nMessage-ID: <x@test>\r\n\r\nbody\r\n";

std::unique_ptr<Session> session_for(const SmtpSettings& settings) {
  auto transport = std::make_shared<SmtpTransport>(settings);
  auto session = transport->open_session();
  REQUIRE(session);
  // The session holds what it needs of the transport (settings, TLS contexts) by itself.
  return std::move(*session);
}

SmtpSettings settings_for(const SmtpTestServer& server, std::string scheme = "smtp", std::string user = "",
                          std::string password = "") {
  auto parsed = parse_smtp_url({.url = scheme + "://127.0.0.1:" + std::to_string(server.port()),
                                .username = std::move(user),
                                .password = std::move(password),
                                .timeout_seconds = 5});
  REQUIRE(parsed);
  return *parsed;
}

// A self-signed certificate for 127.0.0.1 (subjectAltName IP), made with the openssl tool.
struct Certificate {
  TempDir dir;
  std::string cert = (dir.path() / "cert.pem").string();
  std::string key = (dir.path() / "key.pem").string();
  Certificate() {
    std::string command = "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                          "-addext subjectAltName=IP:127.0.0.1 -keyout " + key + " -out " + cert + " 2>/dev/null";
    REQUIRE(std::system(command.c_str()) == 0);
  }
  std::string option() const { return cert + "," + key; }
};

// SSL_CERT_FILE names the CA file OpenSSL's default verify paths load: the test's own
// certificate stands in for the system's CAs while a transport is made.
struct TrustOnly {
  explicit TrustOnly(const std::string& file) { ::setenv("SSL_CERT_FILE", file.c_str(), 1); }
  ~TrustOnly() { ::unsetenv("SSL_CERT_FILE"); }
  TrustOnly(const TrustOnly&) = delete;
  TrustOnly& operator=(const TrustOnly&) = delete;
};

}  // namespace

TEST_SUITE("transport") {

TEST_CASE("dot_stuff: leading dots doubled on every line, a final line end, the ending dot") {
  std::string out = "stale";
  dot_stuff("a\r\n.b\r\n..c\r\n", out);
  CHECK(out == "a\r\n..b\r\n...c\r\n.\r\n");
  dot_stuff(".first\r\nno end", out);
  CHECK(out == "..first\r\nno end\r\n.\r\n");
  dot_stuff("", out);
  CHECK(out == ".\r\n");
  dot_stuff(".\r\n", out);
  CHECK(out == "..\r\n.\r\n");
  dot_stuff("bare\n.lf\n", out);
  CHECK(out == "bare\n..lf\n.\r\n");
  dot_stuff("x.\r\n a.\r\n", out);
  CHECK(out == "x.\r\n a.\r\n.\r\n");
}

TEST_CASE("smtp with PIPELINING: messages arrive byte for byte on one connection; refusals keep their stage") {
  SmtpTestServer server({"bad@*=550/rcpt", "temp@*=451", "*@full.example=552"}, {"--pipelining"});
  auto session = session_for(settings_for(server));
  for (int i = 0; i < 50; ++i) {
    std::string body = "Subject: " + std::to_string(i) + "\r\n\r\n.dot line\r\n";
    for (int line = 0; line < 6 + i; ++line) body += std::string(500, 'x') + "\r\n.\r\n";
    auto result = session->send({"bounce@acme.example", "r" + std::to_string(i) + "@example.com"}, body);
    REQUIRE_MESSAGE(result.outcome == Outcome::sent, result.reply);
    CHECK(result.stage == ReplyStage::end_of_data);
    CHECK(read_file(server.out_dir() / (std::to_string(i + 1) + ".eml")) == body);
  }
  CHECK(server.connections() == 1);

  auto unknown = session->send({"bounce@acme.example", "bad@example.com"}, small);
  CHECK(unknown.outcome == Outcome::failed);
  CHECK(unknown.code == 550);
  CHECK(unknown.stage == ReplyStage::rcpt);
  CHECK(unknown.reply == "User unknown (test fault)");
  auto later = session->send({"bounce@acme.example", "temp@example.com"}, small);
  CHECK(later.outcome == Outcome::retry);
  CHECK(later.code == 451);
  CHECK(later.stage == ReplyStage::end_of_data);
  auto full = session->send({"bounce@acme.example", "ann@full.example"}, small);
  CHECK(full.outcome == Outcome::failed);
  CHECK(full.code == 552);
  CHECK(session->send(ok_envelope, small).outcome == Outcome::sent);
  CHECK(server.accepted("ok@example.com") == 1);
  CHECK(server.accepted("bad@example.com") == 0);
}

TEST_CASE("smtp: the go-ahead is asked after the envelope is taken; withheld, nothing arrives and the session goes on") {
  for (const char* pipelining : {"--pipelining", ""}) {
    CAPTURE(pipelining);
    std::vector<std::string> args;
    if (*pipelining) args.push_back(pipelining);
    SmtpTestServer server({"bad@*=550/rcpt"}, args);
    auto session = session_for(settings_for(server));
    int asked = 0;
    auto yes = [&] { ++asked; return true; };
    auto no = [&] { ++asked; return false; };

    auto sent = session->send({"bounce@acme.example", "first@example.com"}, small, yes);
    REQUIRE_MESSAGE(sent.outcome == Outcome::sent, sent.reply);
    CHECK(asked == 1);

    // Withheld: the server was ready for the content (354) and got none of it.
    auto held = session->send({"bounce@acme.example", "held@example.com"}, small, no);
    CHECK(held.outcome == Outcome::withheld);
    CHECK(held.code == 0);
    CHECK(held.stage == ReplyStage::none);
    CHECK(asked == 2);
    CHECK(server.accepted("held@example.com") == 0);

    // Refused at RCPT: nothing to hold back, the go-ahead is not asked.
    auto refused = session->send({"bounce@acme.example", "bad@example.com"}, small, no);
    CHECK(refused.outcome == Outcome::failed);
    CHECK(refused.stage == ReplyStage::rcpt);
    CHECK(asked == 2);

    // The next message goes on a fresh connection: the withheld one's was left mid-DATA.
    auto after = session->send({"bounce@acme.example", "after@example.com"}, small, yes);
    REQUIRE_MESSAGE(after.outcome == Outcome::sent, after.reply);
    CHECK(asked == 3);
    CHECK(server.accepted("first@example.com") == 1);
    CHECK(server.accepted("after@example.com") == 1);
    CHECK(server.connections() >= 2);
  }
}

TEST_CASE("smtp: the next envelope opened behind a message's content saves its round trip; another one reconnects") {
  SmtpTestServer server({"bad@*=550/rcpt"}, {"--pipelining"});
  auto session = session_for(settings_for(server));
  CHECK_FALSE(session->opens_next());  // nothing known of the server before it is connected
  auto with_next = [](const std::string& rcpt) {
    return [rcpt] {
      Handover h(true);
      h.next = Envelope{"bounce@acme.example", rcpt};
      h.next_size = small.size();
      return h;
    };
  };
  auto first = session->send({"bounce@acme.example", "a@example.com"}, small, with_next("b@example.com"));
  REQUIRE_MESSAGE(first.outcome == Outcome::sent, first.reply);
  CHECK(session->opens_next());
  // b's MAIL, RCPT and DATA went behind a's content: its send finds the server ready.
  auto second = session->send({"bounce@acme.example", "b@example.com"}, small, with_next("c@example.com"));
  REQUIRE_MESSAGE(second.outcome == Outcome::sent, second.reply);
  CHECK(server.connections() == 1);
  // c was opened but d comes instead: the server waits for c's content, so that connection goes.
  auto other = session->send({"bounce@acme.example", "d@example.com"}, small);
  REQUIRE_MESSAGE(other.outcome == Outcome::sent, other.reply);
  CHECK(server.connections() == 2);
  CHECK(server.accepted("a@example.com") == 1);
  CHECK(server.accepted("b@example.com") == 1);
  CHECK(server.accepted("c@example.com") == 0);
  CHECK(server.accepted("d@example.com") == 1);

  // A next envelope the server refuses at RCPT: the refusal is that message's own outcome.
  auto before_bad = session->send({"bounce@acme.example", "e@example.com"}, small, with_next("bad@example.com"));
  REQUIRE_MESSAGE(before_bad.outcome == Outcome::sent, before_bad.reply);
  auto bad = session->send({"bounce@acme.example", "bad@example.com"}, small);
  CHECK(bad.outcome == Outcome::failed);
  CHECK(bad.code == 550);
  CHECK(bad.stage == ReplyStage::rcpt);
  auto after = session->send({"bounce@acme.example", "f@example.com"}, small);
  REQUIRE_MESSAGE(after.outcome == Outcome::sent, after.reply);
  CHECK(server.accepted("e@example.com") == 1);
  CHECK(server.accepted("f@example.com") == 1);
  CHECK(server.accepted("bad@example.com") == 0);
}

TEST_CASE("smtp: without PIPELINING no next envelope is opened") {
  SmtpTestServer server;
  auto session = session_for(settings_for(server));
  auto first = session->send({"bounce@acme.example", "a@example.com"}, small, [] {
    Handover h(true);
    h.next = Envelope{"bounce@acme.example", "b@example.com"};
    return h;
  });
  REQUIRE_MESSAGE(first.outcome == Outcome::sent, first.reply);
  CHECK_FALSE(session->opens_next());
  auto other = session->send({"bounce@acme.example", "c@example.com"}, small);
  REQUIRE_MESSAGE(other.outcome == Outcome::sent, other.reply);
  CHECK(server.connections() == 1);  // nothing was opened, so the connection stays
}

TEST_CASE("smtp: STARTTLS is used when offered, unverified, for a server without credentials") {
  Certificate certificate;
  SmtpTestServer server({}, {"--tls", certificate.option(), "--pipelining"});
  auto session = session_for(settings_for(server));
  for (int i = 0; i < 3; ++i) {
    auto result = session->send(ok_envelope, small);
    REQUIRE_MESSAGE(result.outcome == Outcome::sent, result.reply);
  }
  auto log = server.log();
  REQUIRE(log.size() == 3);
  for (const auto& entry : log) CHECK(entry["tls"] == true);
  CHECK(server.connections() == 1);
  CHECK(read_file(server.out_dir() / "1.eml") == small);
}

TEST_CASE("smtp: a password goes only over verified TLS unless the relay is on loopback") {
  Certificate certificate;
  SmtpTestServer server({}, {"--tls", certificate.option(), "--auth", "relay-user:s3cret"});

  SUBCASE("a certificate the system does not trust: no login, no message, retry with the reason") {
    auto settings = settings_for(server, "smtp", "relay-user", "s3cret");
    settings.loopback = false;  // as for a relay across the network
    auto session = session_for(settings);
    auto result = session->send(ok_envelope, small);
    CHECK(result.outcome == Outcome::retry);
    CHECK(result.reply.find("certificate") != std::string::npos);
    CHECK(result.reply.find("s3cret") == std::string::npos);
    CHECK(server.stats()["messages"] == 0);
  }
  SUBCASE("a trusted certificate for the host: logged in over TLS, sent") {
    TrustOnly trust(certificate.cert);
    auto settings = settings_for(server, "smtp", "relay-user", "s3cret");
    settings.loopback = false;
    auto session = session_for(settings);
    auto result = session->send(ok_envelope, small);
    REQUIRE_MESSAGE(result.outcome == Outcome::sent, result.reply);
    auto log = server.log();
    REQUIRE(log.size() == 1);
    CHECK(log[0]["tls"] == true);
    CHECK(log[0]["auth"] == "relay-user");
  }
  SUBCASE("a wrong password is retry with the server's code, not a failure of the recipient") {
    TrustOnly trust(certificate.cert);
    auto settings = settings_for(server, "smtp", "relay-user", "wrong");
    settings.loopback = false;
    auto session = session_for(settings);
    auto result = session->send(ok_envelope, small);
    CHECK(result.outcome == Outcome::retry);
    CHECK(result.code == 535);
    CHECK(result.stage == ReplyStage::session);
    CHECK(server.stats()["messages"] == 0);
  }
}

TEST_CASE("smtp: on loopback a password may go in clear; a server that offers no STARTTLS is refused otherwise") {
  SmtpTestServer server({}, {"--auth", "relay-user:s3cret"});
  SUBCASE("loopback") {
    auto session = session_for(settings_for(server, "smtp", "relay-user", "s3cret"));
    auto result = session->send(ok_envelope, small);
    REQUIRE_MESSAGE(result.outcome == Outcome::sent, result.reply);
    auto log = server.log();
    REQUIRE(log.size() == 1);
    CHECK(log[0]["tls"] == false);
    CHECK(log[0]["auth"] == "relay-user");
  }
  SUBCASE("across a network") {
    auto settings = settings_for(server, "smtp", "relay-user", "s3cret");
    settings.loopback = false;
    auto session = session_for(settings);
    auto result = session->send(ok_envelope, small);
    CHECK(result.outcome == Outcome::retry);
    CHECK(result.reply.find("STARTTLS") != std::string::npos);
    CHECK(server.stats()["messages"] == 0);
  }
}

TEST_CASE("smtps: implicit TLS with the certificate verified") {
  Certificate certificate;
  SmtpTestServer server({}, {"--tls", certificate.option(), "--implicit-tls", "--auth", "relay-user:s3cret"});
  SUBCASE("trusted") {
    TrustOnly trust(certificate.cert);
    auto session = session_for(settings_for(server, "smtps", "relay-user", "s3cret"));
    for (int i = 0; i < 2; ++i) {
      auto result = session->send(ok_envelope, small);
      REQUIRE_MESSAGE(result.outcome == Outcome::sent, result.reply);
    }
    auto log = server.log();
    REQUIRE(log.size() == 2);
    CHECK(log[1]["tls"] == true);
    CHECK(log[1]["auth"] == "relay-user");
    CHECK(server.connections() == 1);
  }
  SUBCASE("untrusted") {
    auto session = session_for(settings_for(server, "smtps"));
    auto result = session->send(ok_envelope, small);
    CHECK(result.outcome == Outcome::retry);
    CHECK(result.reply.find("certificate") != std::string::npos);
  }
}

TEST_CASE("smtp: a kept connection the server closed while idle is replaced, and the message goes once") {
  SmtpTestServer server({}, {"--idle-timeout", "0.5", "--pipelining"});
  auto session = session_for(settings_for(server));
  CHECK(session->send(ok_envelope, small).outcome == Outcome::sent);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto again = session->send(ok_envelope, small);
  REQUIRE_MESSAGE(again.outcome == Outcome::sent, again.reply);
  CHECK(server.connections() == 2);
  CHECK(server.accepted("ok@example.com") == 2);
}

}  // TEST_SUITE
