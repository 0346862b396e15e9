// WebhookService around any adapter: routing, body limits, broken adapter files, store failures,
// concurrency (group commit) and durability across a crash.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include "daemon/tracking/webhooks/event_mapper.hpp"
#include "tests/unit/tracking/webhooks/signing_support.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;
using namespace campaignd::tracking::webhooks::webhook_testing;
using nlohmann::json;

namespace {

// An unsigned adapter for tests of everything but signatures.
const char* kOpenAdapter = R"(# test adapter
signature: {scheme: none}
max_body_bytes: 2048
events:
  root: $.events
  kind: $.type
  kinds:
    open: opened
    bounce:
      - when: {$.hard: true}
        kind: bounced
      - {kind: bounced, bounce_type: soft}
  recipient: $.to
  message_id: header:x-message-id
  time: $.at
  event_id: $.id
)";

}  // namespace

TEST_CASE("service: unknown providers get 404, big bodies 413") {
  Fixture f;
  f.write_adapter("acme.yaml", kOpenAdapter);
  auto service = f.load();
  CHECK(service.providers() == std::vector<std::string>{"acme"});
  auto r = service.handle("nope", post("{}"));
  CHECK(r.status == 404);
  CHECK(json_of(r)["error"] == "unknown webhook provider 'nope'");
  r = service.handle("acme", post(std::string(2049, ' ')));
  CHECK(r.status == 413);
  CHECK(service.handle("acme", post(std::string(2000, ' ') + "{\"events\": []}")).status == 200);
}

TEST_CASE("service: an unsigned adapter maps, with header sources and when-rules") {
  Fixture f;
  f.write_adapter("acme.yaml", kOpenAdapter);
  auto service = f.load();
  std::string body = R"({"events": [
      {"id": "e1", "type": "open", "to": "alice@example.com", "at": 1700000500000},
      {"id": "e2", "type": "bounce", "to": "bob@example.com", "hard": true, "at": "2023-11-14T22:30:00+01:00"},
      {"id": "e3", "type": "bounce", "to": "dave@example.com", "hard": false},
      {"id": "e4", "type": "click", "to": "alice@example.com"}]})";
  auto r = service.handle("acme", post(body));
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(json_of(r) == json{{"accepted", 3}, {"duplicates", 0}, {"ignored", 1}});
  // message_id comes from a request header here.
  r = service.handle("acme", post(R"({"events": [{"id": "e5", "type": "open", "to": "someone@else.example"}]})",
                                  {{"x-message-id", "<carol.1700000000@mail.acme.test>"}}));
  REQUIRE(r.status == 200);
  CHECK(f.count("SELECT send_id FROM events WHERE provider_event_id = 'acme:e5'") == f.send_ids["carol@example.com"]);
  CHECK(f.count("SELECT at FROM events WHERE kind = 'opened'") == 1700000500);  // milliseconds
  CHECK(f.count("SELECT at FROM events WHERE provider_event_id = 'acme:e2'") == 1700000000 - 2600);  // 21:30Z
  CHECK(f.contact_status("bob@example.com") == "bounced");
  CHECK(f.contact_status("dave@example.com") == "subscribed");
  // An event with no time gets the recorder's clock.
  CHECK(f.count("SELECT at FROM events WHERE provider_event_id = 'acme:e3'") == kNow);
}

TEST_CASE("service: broken adapter files are reported and the others still load") {
  Fixture f;
  f.write_adapter("acme.yaml", kOpenAdapter);
  f.write_adapter("broken.yaml", "signature: {scheme: none}\nevents:\n  kind: $.type\n  kinds: {x: exploded}\n  recipient: $.to\n");
  f.write_adapter("notes.txt", "not an adapter");
  auto service = f.load();
  CHECK(service.providers() == std::vector<std::string>{"acme"});
  REQUIRE(f.load_errors.size() == 1);
  CHECK(f.load_errors[0].place.file.ends_with("broken.yaml"));
  CHECK(f.load_errors[0].place.line == 4);
  CHECK(service.handle("broken", post("{}")).status == 404);
}

TEST_CASE("service: a missing folder means no providers") {
  Fixture f;
  std::vector<PlacedError> errors;
  auto service = WebhookService::load(f.tmp.file("absent"), *f.recorder, f.clock, f.store(), errors);
  REQUIRE(service);
  CHECK(service->providers().empty());
  CHECK(errors.empty());
}

TEST_CASE("service: malformed posts get 400 with a reason") {
  Fixture f;
  f.write_adapter("acme.yaml", kOpenAdapter);
  auto service = f.load();
  auto reason = [&](const std::string& body) {
    auto r = service.handle("acme", post(body));
    CHECK(r.status == 400);
    return json_of(r)["error"].get<std::string>();
  };
  CHECK(reason("{\"events\": [}").find("line 1, column 13") != std::string::npos);
  CHECK(reason("{}") == "no events at $.events");
  CHECK(reason("{\"events\": 3}") == "events at $.events must be an object or an array of objects");
  CHECK(reason("{\"events\": [\"x\"]}") == "event 0 is not an object");
  CHECK(reason(R"({"events": [{"type": "open", "at": true}]})") == "event 0: time true does not parse");
  CHECK(reason(R"({"events": {"type": "open", "at": -5}})") == "the event: time -5 does not parse");
  CHECK(f.count("SELECT count(*) FROM events") == 0);
}

TEST_CASE("service: a store failure gets 503 so the provider retries") {
  Fixture f;
  f.write_adapter("acme.yaml", kOpenAdapter);
  auto service = f.load();
  f.store().writer().stop();
  auto r = service.handle("acme", post(R"({"events": [{"id": "e1", "type": "open", "to": "alice@example.com"}]})"));
  CHECK(r.status == 503);
}

TEST_CASE("service: a post is all or nothing") {
  Fixture f;
  f.write_adapter("acme.yaml", kOpenAdapter);
  auto service = f.load();
  // The second event fails inside the store: the first must not stay behind alone.
  auto broken = f.store().writer().run([](const store::Database& db) {
    return db.exec(db.sql("CREATE TRIGGER no_bounces BEFORE INSERT ON events WHEN NEW.kind = 'bounced' "
                          "BEGIN SELECT RAISE(ABORT, 'bounces refused'); END",
                          "CREATE FUNCTION no_bounces() RETURNS trigger LANGUAGE plpgsql AS "
                          "$$ BEGIN RAISE EXCEPTION 'bounces refused'; END $$; "
                          "CREATE TRIGGER no_bounces BEFORE INSERT ON events FOR EACH ROW "
                          "WHEN (NEW.kind = 'bounced') EXECUTE FUNCTION no_bounces()"));
  });
  REQUIRE(broken);
  auto r = service.handle("acme", post(R"({"events": [
      {"id": "e1", "type": "open", "to": "alice@example.com"},
      {"id": "e2", "type": "bounce", "to": "bob@example.com", "hard": true}]})"));
  CHECK(r.status == 503);
  CHECK(f.count("SELECT count(*) FROM events") == 0);
  CHECK(f.contact_status("bob@example.com") == "subscribed");
}

TEST_CASE("service: concurrent posts are all committed (group commit)") {
  Fixture f;
  f.write_adapter("acme.yaml", kOpenAdapter);
  auto service = f.load();
  constexpr int kThreads = 8, kPosts = 25;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPosts; ++i) {
        std::string id = std::to_string(t) + "-" + std::to_string(i);
        auto r = service.handle("acme", post(R"({"events": [{"id": ")" + id +
                                             R"(", "type": "open", "to": "alice@example.com"}]})"));
        if (r.status == 200) ++ok;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(ok == kThreads * kPosts);
  CHECK(f.events("opened") == kThreads * kPosts);
}

TEST_CASE("service: an accepted event survives the process dying right after the answer") {
  campaignd::testing::TempFolder tmp;
  std::string db_path = tmp.file("crash.db");
  std::filesystem::create_directories(tmp.file("hooks"));
  tmp.write("hooks/acme.yaml", kOpenAdapter);
  // Named before the fork: on PostgreSQL the schema's name carries the test process's pid.
  std::string target = campaignd::testing::store_target(db_path);
  int pipefd[2];
  REQUIRE(::pipe(pipefd) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child answers one post and dies at once: no destructors, no checkpoint, no flush.
    ::close(pipefd[0]);
    int status = 0;
    auto store = store::Store::open(target);
    if (store) {
      util::SystemClock clock;
      tracking::EventRecorder recorder(**store, clock);
      std::vector<PlacedError> errors;
      auto service = WebhookService::load(tmp.file("hooks"), recorder, clock, **store, errors);
      if (service)
        status = service
                     ->handle("acme", post(R"({"events": [{"id": "crash-1", "type": "bounce", "to": "x@example.com", "hard": true}]})"))
                     .status;
    }
    [[maybe_unused]] auto written = ::write(pipefd[1], &status, sizeof status);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  int status = 0;
  REQUIRE(::read(pipefd[0], &status, sizeof status) == static_cast<ssize_t>(sizeof status));
  ::close(pipefd[0]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  REQUIRE(status == 200);
  auto db = campaignd::testing::open_migrated(db_path);
  CHECK(campaignd::testing::query_int(db, "SELECT count(*) FROM events WHERE provider_event_id = 'acme:crash-1'") == 1);
  CHECK(campaignd::testing::query_int(db, "SELECT count(*) FROM suppressions WHERE email = 'x@example.com'") == 1);
}

TEST_CASE("event times: formats") {
  CHECK(parse_event_time(json(1700000000), TimeFormat::auto_detect) == 1700000000);
  CHECK(parse_event_time(json(1700000000.9), TimeFormat::auto_detect) == 1700000000);
  CHECK(parse_event_time(json(1700000000123LL), TimeFormat::auto_detect) == 1700000000);
  CHECK(parse_event_time(json("1700000000"), TimeFormat::unix_seconds) == 1700000000);
  CHECK(parse_event_time(json("1700000000123"), TimeFormat::unix_ms) == 1700000000);
  CHECK(parse_event_time(json("2023-11-14T22:13:20.9070259Z"), TimeFormat::auto_detect) == 1700000000);
  CHECK(parse_event_time(json("2023-11-14T22:13:20Z"), TimeFormat::iso8601) == 1700000000);
  CHECK_FALSE(parse_event_time(json(1700000000), TimeFormat::iso8601));
  CHECK_FALSE(parse_event_time(json("2023-11-14T22:13:20Z"), TimeFormat::unix_seconds));
  CHECK_FALSE(parse_event_time(json("soon"), TimeFormat::auto_detect));
  CHECK_FALSE(parse_event_time(json(-1), TimeFormat::auto_detect));
  CHECK_FALSE(parse_event_time(json(1e300), TimeFormat::auto_detect));
  CHECK_FALSE(parse_event_time(json::object(), TimeFormat::auto_detect));
}

TEST_CASE("base64 decoding") {
  std::string out;
  CHECK(base64_decode("aGVsbG8=", out));
  CHECK(out == "hello");
  CHECK(base64_decode("aGVsbG8", out));
  CHECK(out == "hello");
  CHECK(base64_decode("", out));
  CHECK(out.empty());
  CHECK_FALSE(base64_decode("aGVs bG8=", out));
  CHECK_FALSE(base64_decode("a", out));
  CHECK_FALSE(base64_decode("aGVsbG8-", out));
}
