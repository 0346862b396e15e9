// delivery/delivery_engine: the send queue at work over a real store, real templates and the
// real maildir and SMTP transports — outcomes, send-time opt-out checks, retries and drain.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/delivery/delivery_engine.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "tests/unit/campaigns/campaign_fixture.hpp"
#include "tests/unit/transport/transport_test_support.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
namespace fs = std::filesystem;

namespace {

constexpr util::UnixTime kNow = 1772355600;

// A TCP port on 127.0.0.1 that nothing listens on: bound once, then closed.
int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(8)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct DeliveryFixture {
  testing::CampaignFolders folders;
  std::unique_ptr<store::Store> store = open_store(folders.tmp().file("var/campaignd.db"));
  store::Database reader = open_reader(*store);
  campaigns::Catalog catalog;
  util::ManualClock clock{kNow};
  tracking::TokenSigner signer{"test-key"};
  delivery::MessageComposer composer{"http://127.0.0.1:8025/", signer};
  std::string maildir = folders.tmp().file("outbox");
  std::int64_t campaign_id = 0;
  std::map<std::string, std::int64_t> contacts;

  std::map<std::int64_t, campaigns::PreparedCampaignPtr> prepared;

  DeliveryFixture() {
    folders.write_template("promo");
    campaign_id = add_campaign("sale");
  }

  // A campaign row and its prepared form in the catalog (beside the ones there).
  std::int64_t add_campaign(const std::string& name) {
    auto id = run_write([&](const store::Database& db) -> Result<std::int64_t> {
      auto r = store::CampaignRepository(db).upsert(name, "campaigns/" + name + ".yaml", "{}", kNow, kNow);
      if (!r) return std::unexpected(r.error());
      return r->id;
    });
    campaigns::Campaign c;
    c.name = name;
    c.file = "campaigns/" + name + ".yaml";
    c.from = *util::parse_mailbox("Acme <news@acme.example>");
    c.subject = "Hi {{first_name}}";
    c.template_name = "promo";
    c.track = false;
    auto templates = render::TemplateSet::load(folders.templates_dir(), "promo", c.subject, "test");
    REQUIRE_MESSAGE(templates, (templates ? "" : templates.error()));
    prepared[id] = std::make_shared<const campaigns::PreparedCampaign>(id, c, std::move(*templates));
    catalog.replace(prepared, {});
    return id;
  }

  static std::unique_ptr<store::Store> open_store(const std::string& path) {
    auto s = store::Store::open(campaignd::testing::store_target(path));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return std::move(*s);
  }
  static store::Database open_reader(store::Store& s) {
    auto r = s.open_reader();
    REQUIRE(r);
    return std::move(*r);
  }
  std::int64_t run_write(const std::function<Result<std::int64_t>(const store::Database&)>& job) {
    std::int64_t out = 0;
    auto s = store->writer().run([&](const store::Database& db) -> Status {
      auto r = job(db);
      if (!r) return std::unexpected(r.error());
      out = *r;
      return {};
    });
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    return out;
  }
  void write(std::function<Status(const store::Database&)> job) {
    auto s = store->writer().run(std::move(job));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
  }

  // Adds subscribed contacts and queues the campaign to all of them.
  void enqueue(const std::vector<std::string>& emails) {
    for (const auto& email : emails) {
      contacts[email] = run_write([&](const store::Database& db) -> Result<std::int64_t> {
        store::Contact c;
        c.email = email;
        c.first_name = email.substr(0, email.find('@'));
        c.created_at = c.updated_at = kNow;
        return store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
      });
    }
    auto n = run_write([&](const store::Database& db) -> Result<std::int64_t> {
      return store::SendRepository(db).enqueue_matching(campaign_id, "true", {});
    });
    REQUIRE(n == static_cast<std::int64_t>(emails.size()));
  }

  std::unique_ptr<transport::Transport> maildir_transport() {
    auto t = transport::make_transport({.url = "maildir://" + maildir});
    REQUIRE_MESSAGE(t, (t ? "" : t.error()));
    return std::move(*t);
  }
  std::vector<fs::path> delivered() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(maildir + "/new", ec)) out.push_back(e.path());
    return out;
  }
  std::int64_t count(const std::string& where) {
    return testing::query_int(reader, "SELECT COUNT(*) FROM sends WHERE " + where);
  }
  std::string state_for(const std::string& email) {
    return testing::query_text(reader, "SELECT state FROM sends WHERE contact_id = " + std::to_string(contacts[email]));
  }
};

// Looks at the store at the moment each go-ahead is given, through a real transport's sessions
// (a wrapper, not a fake: the messages still go through the maildir transport).
class WatchingTransport final : public transport::Transport {
 public:
  // The recipient handed over, and the recipient of the next message the engine had the
  // session open behind it (empty: none).
  using Watch = std::function<void(const std::string& rcpt_to, const std::string& next_rcpt_to)>;
  WatchingTransport(transport::Transport& inner, Watch watch) : inner_(inner), watch_(std::move(watch)) {}
  Result<std::unique_ptr<transport::Session>> open_session() override {
    auto session = inner_.open_session();
    if (!session) return std::unexpected(session.error());
    return std::unique_ptr<transport::Session>(std::make_unique<Session>(std::move(*session), watch_));
  }
  std::string describe() const override { return inner_.describe(); }

 private:
  class Session final : public transport::Session {
   public:
    Session(std::unique_ptr<transport::Session> inner, Watch watch) : inner_(std::move(inner)), watch_(std::move(watch)) {}
    transport::SendResult send(const transport::Envelope& envelope, std::string_view message,
                               const transport::GoAhead& go_ahead) override {
      return inner_->send(envelope, message, [&] {
        auto handover = go_ahead ? go_ahead() : transport::Handover(true);
        if (handover.go) watch_(envelope.rcpt_to, handover.next ? handover.next->rcpt_to : "");
        return handover;
      });
    }
    bool opens_next() const override { return inner_->opens_next(); }

   private:
    std::unique_ptr<transport::Session> inner_;
    Watch watch_;
  };
  transport::Transport& inner_;
  Watch watch_;
};

delivery::DeliverySettings settings(int concurrency = 2) {
  delivery::DeliverySettings s;
  s.concurrency = concurrency;
  s.batch_size = 50;
  s.max_attempts = 2;
  s.retry_base_seconds = 1;
  s.retry_max_seconds = 60;
  return s;
}

}  // namespace

TEST_CASE("delivery: every queued send ends sent, one maildir file each") {
  DeliveryFixture f;
  std::vector<std::string> emails;
  for (int i = 0; i < 12; ++i) emails.push_back("user" + std::to_string(i) + "@example.com");
  f.enqueue(emails);
  auto transport = f.maildir_transport();
  delivery::DeliveryEngine engine(*f.store, f.catalog, *transport, f.composer, f.clock, settings(3));
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return f.count("state = 'sent'") == 12; }));
  engine.drain();
  CHECK(f.count("state <> 'sent'") == 0);
  CHECK(f.count("message_id IS NOT NULL AND sent_at = " + std::to_string(kNow) + " AND attempts = 1") == 12);
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM events WHERE kind = 'sent'") == 12);
  auto files = f.delivered();
  REQUIRE(files.size() == 12);
  // Each recipient got exactly one message, with its own unsubscribe link.
  std::map<std::string, int> per_recipient;
  for (const auto& file : files) {
    std::string text = slurp(file);
    CHECK(text.find("List-Unsubscribe: <http://127.0.0.1:8025/u/") != std::string::npos);
    for (const auto& e : emails)
      if (text.find("<" + e + ">") != std::string::npos) ++per_recipient[e];
  }
  for (const auto& e : emails) CHECK(per_recipient[e] == 1);
  auto stats = engine.stats();
  CHECK(stats.sent == 12);
  CHECK(stats.failed == 0);
  CHECK(engine.idle());
}

TEST_CASE("delivery: an unsubscribe or suppression after enqueueing holds at send time") {
  DeliveryFixture f;
  f.enqueue({"ann@example.com", "bob@example.com", "cat@example.com", "dan@example.com"});
  f.write([&](const store::Database& db) {
    return store::ContactRepository(db).set_status(f.contacts["bob@example.com"], "unsubscribed", kNow);
  });
  f.write([&](const store::Database& db) {
    return store::SuppressionRepository(db).add("CAT@example.com", "complaint", kNow);
  });
  auto transport = f.maildir_transport();
  delivery::DeliveryEngine engine(*f.store, f.catalog, *transport, f.composer, f.clock, settings());
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return f.count("state IN ('queued', 'sending')") == 0; }));
  engine.drain();
  CHECK(f.state_for("ann@example.com") == "sent");
  CHECK(f.state_for("dan@example.com") == "sent");
  CHECK(f.state_for("bob@example.com") == "skipped");
  CHECK(f.state_for("cat@example.com") == "skipped");
  CHECK(testing::query_text(f.reader, "SELECT last_error FROM sends WHERE contact_id = " +
                                          std::to_string(f.contacts["cat@example.com"])) == "address is suppressed");
  auto files = f.delivered();
  REQUIRE(files.size() == 2);
  for (const auto& file : files) {
    std::string text = slurp(file);
    CHECK(text.find("bob@example.com") == std::string::npos);
    CHECK(text.find("cat@example.com") == std::string::npos);
  }
  CHECK(engine.stats().skipped == 2);
}

TEST_CASE("delivery: a relay that refuses connections holds its sends: no attempt counted, nothing failed") {
  DeliveryFixture f;
  f.enqueue({"ann@example.com", "bob@example.com"});
  int port = closed_port();
  auto transport = transport::make_transport({.url = "smtp://127.0.0.1:" + std::to_string(port), .timeout_seconds = 5});
  REQUIRE(transport);
  delivery::DeliveryEngine engine(*f.store, f.catalog, **transport, f.composer, f.clock, settings());
  REQUIRE(engine.start());
  // The relay is marked down at the first refused connection; its sends wait for it in memory.
  CHECK(wait_until([&] { return engine.flow_status()["relays"][0]["state"] == "down"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto relay = engine.flow_status()["relays"][0];
  CHECK(relay["down_reason"].get<std::string>().find("onnect") != std::string::npos);
  CHECK(engine.stats().failed == 0);
  CHECK(engine.stats().retried == 0);
  engine.drain();
  // Returned to the queue as they were: not failed, no attempt counted, due now.
  CHECK(f.count("state = 'queued' AND attempts = 0") == 2);
  CHECK(f.count("state = 'sent'") == 0);
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM events WHERE kind = 'sent'") == 0);
}

TEST_CASE("delivery: a temporary refusal of one message retries with backoff, then fails") {
  DeliveryFixture f;
  f.enqueue({"ann@example.com", "bob@example.com"});
  transport::testing::SmtpTestServer server({"*@example.com=451"});
  auto transport = transport::make_transport({.url = "smtp://127.0.0.1:" + std::to_string(server.port()),
                                              .timeout_seconds = 5});
  REQUIRE(transport);
  delivery::DeliveryEngine engine(*f.store, f.catalog, **transport, f.composer, f.clock, settings());
  REQUIRE(engine.start());
  // First attempt: back in the queue, one attempt counted, due again retry_base (1 s) later.
  CHECK(wait_until([&] { return f.count("state = 'queued' AND attempts = 1") == 2; }));
  CHECK(f.count("next_attempt_at = " + std::to_string(kNow + 1)) == 2);
  CHECK(f.count("last_error LIKE '%451%' OR last_code = 451") == 2);
  f.clock.advance_seconds(1);
  // Second attempt reaches max_attempts (2): failed.
  CHECK(wait_until([&] { return f.count("state = 'failed'") == 2; }));
  engine.drain();
  CHECK(f.count("state = 'failed' AND attempts = 2") == 2);
  CHECK(f.count("state = 'sent'") == 0);
  auto stats = engine.stats();
  CHECK(stats.sent == 0);
  CHECK(stats.retried == 2);
  CHECK(stats.failed == 2);
  CHECK(engine.flow_status()["relays"][0]["state"] == "up");
}

TEST_CASE("delivery: a message is handed over only once the previous one's outcome is committed") {
  // What bounds the duplicates a crash can cause: one message per session. Every outcome's commit
  // is made slow here, so the previous one is surely still committing when the next message is
  // ready, unless the worker waits for it. The slowness is staged in SQLite's SQL; the engine's
  // code is the same on both stores.
  if (testing::testing_on_postgresql()) return;
  DeliveryFixture f;
  f.enqueue({"ann@example.com", "ben@example.com", "cat@example.com", "dan@example.com"});
  f.write([](const store::Database& db) -> Status {
    return db.exec(
        "CREATE TRIGGER slow_outcome AFTER UPDATE OF state ON sends WHEN NEW.state = 'sent' BEGIN "
        "SELECT count(*) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000) "
        "SELECT i FROM n); END");
  });
  // Over SMTP the next message's envelope also goes behind the previous one's content.
  std::unique_ptr<transport::testing::SmtpTestServer> server;
  std::unique_ptr<transport::Transport> inner;
  SUBCASE("maildir") { inner = f.maildir_transport(); }
  SUBCASE("smtp with pipelining") {
    server = std::make_unique<transport::testing::SmtpTestServer>(std::vector<std::string>{},
                                                                  std::vector<std::string>{"--pipelining"});
    auto t = transport::make_transport({.url = "smtp://127.0.0.1:" + std::to_string(server->port()), .timeout_seconds = 5});
    REQUIRE(t);
    inner = std::move(*t);
  }
  store::Database watcher = DeliveryFixture::open_reader(*f.store);
  std::string previous;
  std::vector<std::string> handed_over, unrecorded, opened_next;
  WatchingTransport transport(*inner, [&](const std::string& rcpt, const std::string& next) {
    if (!next.empty()) opened_next.push_back(next);
    if (!previous.empty()) {
      auto state = testing::query_text(watcher, "SELECT s.state FROM sends s JOIN contacts c ON c.id = s.contact_id "
                                                "WHERE c.email = '" + previous + "'");
      if (state != "sent") unrecorded.push_back(previous + " was " + state);
    }
    previous = rcpt;
    handed_over.push_back(rcpt);
  });
  delivery::DeliveryEngine engine(*f.store, f.catalog, transport, f.composer, f.clock, settings(1));
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return f.count("state = 'sent'") == 4; }, std::chrono::seconds(30)));
  engine.drain();
  CHECK(handed_over.size() == 4);
  CHECK_MESSAGE(unrecorded.empty(), (unrecorded.empty() ? "" : unrecorded.front()));
  if (server) {
    for (const char* rcpt : {"ann@example.com", "ben@example.com", "cat@example.com", "dan@example.com"})
      CHECK(server->accepted(rcpt) == 1);
    CHECK(server->connections() == 1);  // every next envelope was the next message sent
    CHECK(opened_next.size() >= 2);      // the first message has none: the server was not known yet
  } else {
    CHECK(f.delivered().size() == 4);
    CHECK(opened_next.empty());  // a maildir has no round trips to save
  }
}

TEST_CASE("delivery: while a sent message's outcome cannot be written, the next one is withheld at DATA; none goes twice") {
  // The store refuses to mark sends 'sent' (staged in SQLite's SQL; the engine's code is the
  // same on both stores). The first message reaches the server; the second is opened (MAIL,
  // RCPT, DATA) but its content is held back and its connection closed, until the first
  // outcome is written.
  if (testing::testing_on_postgresql()) return;
  DeliveryFixture f;
  f.enqueue({"ann@example.com", "ben@example.com"});
  f.write([](const store::Database& db) -> Status {
    return db.exec("CREATE TRIGGER refuse_sent BEFORE UPDATE ON sends WHEN NEW.state = 'sent' "
                   "BEGIN SELECT RAISE(ABORT, 'the store refuses writes'); END");
  });
  transport::testing::SmtpTestServer server({}, {"--pipelining"});
  auto transport = transport::make_transport({.url = "smtp://127.0.0.1:" + std::to_string(server.port()),
                                              .timeout_seconds = 5});
  REQUIRE(transport);
  delivery::DeliveryEngine engine(*f.store, f.catalog, **transport, f.composer, f.clock, settings(1));
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return engine.stats().paused_reason.find("record send outcomes") != std::string::npos; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // time for a wrong second send
  int delivered = server.accepted("ann@example.com") + server.accepted("ben@example.com");
  CHECK(delivered == 1);
  CHECK(f.count("state = 'sent'") == 0);
  CHECK(engine.stats().unrecorded == 1);

  f.write([](const store::Database& db) -> Status { return db.exec("DROP TRIGGER refuse_sent"); });
  CHECK(wait_until([&] { return f.count("state = 'sent'") == 2; }));
  engine.drain();
  CHECK(server.accepted("ann@example.com") == 1);
  CHECK(server.accepted("ben@example.com") == 1);
  CHECK(engine.stats().paused_reason.empty());
}

TEST_CASE("delivery: a hard bounce at RCPT is known before the same contact's next message is checked") {
  // The send-time checks read while the previous outcome commits, except when it is about the
  // same contact. Here it is a 550 5.1.1 that marks the contact bounced, and its commit is made slow
  // (staged in SQLite's SQL): the other campaign's message to that contact must be skipped for
  // it, not tried again.
  if (testing::testing_on_postgresql()) return;
  DeliveryFixture f;
  auto second = f.add_campaign("news");
  f.enqueue({"gone@example.com"});
  f.write([&](const store::Database& db) -> Status {
    auto n = store::SendRepository(db).enqueue_matching(second, "true", {});
    if (!n) return std::unexpected(n.error());
    return db.exec("CREATE TRIGGER slow_failure AFTER UPDATE OF state ON sends WHEN NEW.state = 'failed' BEGIN "
                   "SELECT count(*) FROM (WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                   "WHERE i < 200000) SELECT i FROM n); END");
  });
  transport::testing::SmtpTestServer server({"gone@*=550/rcpt"}, {"--pipelining"});
  auto transport = transport::make_transport({.url = "smtp://127.0.0.1:" + std::to_string(server.port()),
                                              .timeout_seconds = 5});
  REQUIRE(transport);
  tracking::EventRecorder recorder(*f.store, f.clock);
  delivery::DeliveryEngine engine(*f.store, f.catalog, **transport, f.composer, f.clock, settings(1), &recorder);
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return f.count("state IN ('queued', 'sending')") == 0; }, std::chrono::seconds(20)));
  engine.drain();
  CHECK(f.count("state = 'failed'") == 1);
  CHECK(f.count("state = 'skipped' AND last_error = 'contact is bounced'") == 1);
  CHECK(testing::query_int(f.reader, "SELECT COUNT(*) FROM suppressions") == 1);
}

TEST_CASE("delivery: drain() returns claimed but unstarted sends to the queue") {
  DeliveryFixture f;
  std::vector<std::string> emails;
  for (int i = 0; i < 8; ++i) emails.push_back("u" + std::to_string(i) + "@example.com");
  f.enqueue(emails);
  auto transport = f.maildir_transport();
  auto s = settings(1);
  s.rate_per_second = 1;  // one at once, then one a second: the rest wait, claimed
  delivery::DeliveryEngine engine(*f.store, f.catalog, *transport, f.composer, f.clock, s);
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return f.count("state = 'sent'") >= 1; }));
  CHECK(f.count("state = 'sending'") >= 1);  // claimed in a batch
  engine.drain();
  auto sent = f.count("state = 'sent'");
  CHECK(sent >= 1);
  CHECK(sent < 8);
  CHECK(f.count("state = 'sending'") == 0);
  CHECK(f.count("state = 'queued' AND attempts = 0 AND next_attempt_at = 0") == 8 - sent);
  CHECK(static_cast<std::int64_t>(f.delivered().size()) == sent);
  CHECK(engine.idle());
  // What was returned is claimable again.
  auto claimed = f.run_write([&](const store::Database& db) -> Result<std::int64_t> {
    auto c = store::SendRepository(db).claim_due(kNow, 100);
    if (!c) return std::unexpected(c.error());
    return static_cast<std::int64_t>(c->size());
  });
  CHECK(claimed == 8 - sent);
}

TEST_CASE("delivery: claimed sends the store would not take back are returned once it does, then sent") {
  // The recipients cannot be read and the store refuses to put the sends back in the queue (a
  // database server restarting does both at once). Left 'sending', they would wait forever under
  // this node's lease, which its heartbeat renews. The refusal is staged in SQLite's SQL; the
  // engine's code is the same on both stores.
  if (testing::testing_on_postgresql()) return;
  DeliveryFixture f;
  f.enqueue({"ann@example.com", "ben@example.com", "cat@example.com"});
  f.write([](const store::Database& db) -> Status {
    if (auto s = db.exec("ALTER TABLE contacts RENAME TO contacts_away"); !s) return s;
    return db.exec("CREATE TRIGGER refuse_requeue BEFORE UPDATE ON sends WHEN NEW.state = 'queued' "
                   "BEGIN SELECT RAISE(ABORT, 'the store refuses writes'); END");
  });
  auto transport = f.maildir_transport();
  delivery::DeliveryEngine engine(*f.store, f.catalog, *transport, f.composer, f.clock, settings());
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return engine.stats().paused_reason.find("return sends to the queue") != std::string::npos; }));
  CHECK(f.count("state = 'sending'") == 3);
  f.write([](const store::Database& db) -> Status {
    if (auto s = db.exec("DROP TRIGGER refuse_requeue"); !s) return s;
    return db.exec("ALTER TABLE contacts_away RENAME TO contacts");
  });
  CHECK(wait_until([&] { return f.count("state = 'queued'") == 3; }));
  f.clock.advance_seconds(60);  // past the moment they were put back for
  CHECK(wait_until([&] { return f.count("state = 'sent'") == 3; }));
  CHECK(engine.stats().paused_reason.empty());
  engine.drain();
  CHECK(f.delivered().size() == 3);
}

TEST_CASE("delivery: sends of a campaign missing from the catalog wait, they are not sent or dropped") {
  DeliveryFixture f;
  f.enqueue({"ann@example.com"});
  f.catalog.replace({}, {});
  auto transport = f.maildir_transport();
  delivery::DeliveryEngine engine(*f.store, f.catalog, *transport, f.composer, f.clock, settings());
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return f.count("state = 'queued' AND next_attempt_at > 0") == 1; }));
  engine.drain();
  CHECK(f.count("state = 'queued' AND attempts = 0 AND next_attempt_at = " + std::to_string(kNow + 60)) == 1);
  CHECK(f.delivered().empty());
}

TEST_CASE("delivery: when a relay refuses connections its sends fail over to the next relay") {
  DeliveryFixture f;
  std::vector<std::string> emails;
  for (int i = 0; i < 6; ++i) emails.push_back("user" + std::to_string(i) + "@example.com");
  f.enqueue(emails);
  auto refusing = transport::make_transport(
      {.url = "smtp://127.0.0.1:" + std::to_string(closed_port()), .timeout_seconds = 5});
  REQUIRE(refusing);
  auto maildir = f.maildir_transport();
  std::vector<delivery::RelaySpec> relays = {
      {"primary", refusing->get(), {1, 0}, {}, std::nullopt, {}},
      {"backup", maildir.get(), {2, 0}, {}, std::nullopt, {}},
  };
  delivery::DeliveryEngine engine(*f.store, f.catalog, relays, f.composer, f.clock, settings());
  REQUIRE(engine.start());
  CHECK(wait_until([&] { return f.count("state = 'sent'") == 6; }));
  auto flows = engine.flow_status();
  engine.drain();
  CHECK(f.delivered().size() == 6);
  CHECK(f.count("state = 'sent' AND attempts = 1") == 6);
  CHECK(flows["relays"][0]["name"] == "primary");
  CHECK(flows["relays"][0]["state"] == "down");
  CHECK(flows["relays"][0]["sent"] == 0);
  CHECK(flows["relays"][1]["state"] == "up");
  CHECK(flows["relays"][1]["sent"] == 6);
  CHECK(engine.stats().failed == 0);
}

TEST_CASE("delivery: a warm-up cap spills a campaign into the next days, nothing fails") {
  DeliveryFixture f;
  std::vector<std::string> emails;
  for (int i = 0; i < 9; ++i) emails.push_back("user" + std::to_string(i) + "@example.com");
  f.enqueue(emails);
  auto maildir = f.maildir_transport();
  delivery::RelaySpec relay{"fresh-ip", maildir.get(), {2, 0}, {std::nullopt, {3, 4}}, std::nullopt, {}};
  util::UnixTime day1 = delivery::utc_day_start(kNow);
  {
    delivery::DeliveryEngine engine(*f.store, f.catalog, {relay}, f.composer, f.clock, settings());
    REQUIRE(engine.start());
    // Day 1: three go, the six others wait for tomorrow with the reason on record.
    CHECK(wait_until([&] { return f.count("state = 'sent'") == 3 && f.count("next_attempt_at = " +
                                                                             std::to_string(day1 + 86400)) == 6; }));
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    CHECK(f.count("state = 'sent'") == 3);
    CHECK(f.count("state = 'queued' AND attempts = 0 AND last_error LIKE '%warm-up day 1%'") == 6);
    auto flows = engine.flow_status();
    CHECK(flows["relays"][0]["warmup_cap_today"] == 3);
    CHECK(flows["relays"][0]["warmup_used_today"] == 3);
    CHECK(flows["relays"][0]["state"] == "out of budget");
    engine.drain();
  }
  // A restart does not reset the count: the day's budget is in the store.
  CHECK(testing::query_int(f.reader, "SELECT SUM(sent) FROM relay_usage WHERE relay = 'fresh-ip'") == 3);
  CHECK(testing::query_int(f.reader, "SELECT started_at FROM relay_warmup WHERE relay = 'fresh-ip'") == day1);
  delivery::DeliveryEngine engine(*f.store, f.catalog, {relay}, f.composer, f.clock, settings());
  REQUIRE(engine.start());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(f.count("state = 'sent'") == 3);
  // Day 2: four more.
  f.clock.advance_seconds(86400);
  CHECK(wait_until([&] { return f.count("state = 'sent'") == 7; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  CHECK(f.count("state = 'sent'") == 7);
  CHECK(f.count("state = 'queued' AND last_error LIKE '%warm-up day 2%'") == 2);
  // Day 3: the schedule is over; the rest go.
  f.clock.advance_seconds(86400);
  CHECK(wait_until([&] { return f.count("state = 'sent'") == 9; }));
  engine.drain();
  CHECK(f.count("state = 'failed'") == 0);
  CHECK(f.delivered().size() == 9);
}
