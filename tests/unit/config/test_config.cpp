// config: campaignd.yaml with its defaults, every key, CAMPAIGND_* overrides and placed errors.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

#include "daemon/config/config.hpp"
#include "daemon/util/clock.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
namespace fs = std::filesystem;

namespace {

// Sets (or unsets) one environment variable for the scope, then puts back what was there.
class EnvVar {
 public:
  EnvVar(std::string name, std::optional<std::string> value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) ::setenv(name_.c_str(), value->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ~EnvVar() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  EnvVar(const EnvVar&) = delete;
  EnvVar& operator=(const EnvVar&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Clears every override the loader reads, so the developer's environment cannot leak in.
struct CleanEnv {
  EnvVar vars[14] = {{"CAMPAIGND_DATA_DIR", std::nullopt},          {"CAMPAIGND_CAMPAIGNS_DIR", std::nullopt},
                     {"CAMPAIGND_TEMPLATES_DIR", std::nullopt},     {"CAMPAIGND_RULES_DIR", std::nullopt},
                     {"CAMPAIGND_WEBHOOKS_DIR", std::nullopt},      {"CAMPAIGND_PUBLIC_URL", std::nullopt},
                     {"CAMPAIGND_HTTP_LISTEN", std::nullopt},       {"CAMPAIGND_STORE_URL", std::nullopt},
                     {"CAMPAIGND_LOG_LEVEL", std::nullopt},         {"CAMPAIGND_TRANSPORT_URL", std::nullopt},
                     {"CAMPAIGND_TRANSPORT_CONCURRENCY", std::nullopt}, {"CAMPAIGND_TRANSPORT_RATE", std::nullopt},
                     {"CAMPAIGND_SECRET", std::nullopt},            {"CAMPAIGND_ADMIN_TOKEN", std::nullopt}};
};

// The message of the ConfigError that loading `text` throws ("" when it loads).
// The file is always tmp.file("campaignd.yaml").
std::string load_error(const testing::TempFolder& tmp, const std::string& text) {
  std::string path = tmp.write("campaignd.yaml", text);
  try {
    config::load(path);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("config: an empty file gives every default") {
  CleanEnv env;
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml", "");
  auto cfg = config::load(path);
  std::string base = fs::path(path).parent_path().string();
  CHECK(cfg.file == path);
  CHECK(cfg.base_dir == base);
  CHECK(cfg.data_dir == "./var");
  CHECK(cfg.campaigns_dir == "./campaigns");
  CHECK(cfg.templates_dir == "./templates");
  CHECK(cfg.rules_dir == "./rules");
  CHECK(cfg.webhooks_dir == "./webhooks");
  CHECK(cfg.public_url == "http://127.0.0.1:8025");
  CHECK(cfg.http_listen == "127.0.0.1:8025");
  REQUIRE(cfg.relays.size() == 1);
  CHECK(cfg.relays[0].name == "default");
  CHECK(cfg.relays[0].url == "maildir://./var/outbox");
  CHECK(cfg.relays[0].concurrency == 4);
  CHECK(cfg.relays[0].rate.unlimited());
  CHECK_FALSE(cfg.relays[0].window);
  CHECK(cfg.store_url == "sqlite://./var/campaignd.db");
  CHECK(cfg.database_path() == base + "/var/campaignd.db");
  CHECK(cfg.token_key_env == "CAMPAIGND_SECRET");
  CHECK(cfg.admin_token_env == "CAMPAIGND_ADMIN_TOKEN");
  CHECK(cfg.token_key.empty());
  CHECK(cfg.admin_token.empty());
  CHECK(cfg.dkim.empty());
  // Every destination gets the "*" default: at most 20 sessions at once, no rate of its own.
  REQUIRE(cfg.domains.size() == 1);
  CHECK(cfg.domains["*"].concurrency == 20);
  CHECK(cfg.domains["*"].rate.unlimited());
  CHECK(cfg.throttling.pause_seconds == 60);
  CHECK(cfg.throttling.max_pause_seconds == 1800);
  CHECK(cfg.throttling.recovery_seconds == 60);
  CHECK(cfg.log_level == "info");
  CHECK(cfg.max_attempts == 8);
  CHECK(cfg.retry_base_seconds == 300);
  CHECK(cfg.retry_max_seconds == 4000);
  CHECK(cfg.batch_size == 500);
  CHECK(cfg.soft_bounce_limit == 3);
  CHECK(cfg.subscribe.from.empty());
  CHECK(cfg.subscribe.rate.count == 10);
  CHECK(cfg.subscribe.rate.period_seconds == 60);
  CHECK(cfg.subscribe.confirm_ttl_seconds == 7 * 86400);
}

TEST_CASE("config: defaults() without a file, relative to a base folder") {
  CleanEnv env;
  auto cfg = config::defaults("/srv/campaignd");
  CHECK(cfg.file.empty());
  CHECK(cfg.base_dir == "/srv/campaignd");
  REQUIRE(cfg.relays.size() == 1);
  CHECK(cfg.relays[0].url == "maildir://./var/outbox");
  CHECK(cfg.database_path() == "/srv/campaignd/var/campaignd.db");
  CHECK(cfg.resolve(cfg.campaigns_dir) == "/srv/campaignd/campaigns");
}

TEST_CASE("config: every key of the file is read") {
  CleanEnv env;
  EnvVar key("MY_TOKEN_KEY", "k3y"), admin("MY_ADMIN", "adm1n"), user("SES_USER", "ses-user"),
      pass("SES_PASS", "ses-pass");
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml", R"(# a full config
data_dir: ./data
campaigns_dir: camp
templates_dir: /opt/tpl
rules_dir: ./r
webhooks_dir: ./w
public_url: https://mail.acme.example
log_level: debug
max_attempts: 3
retry_base: 2m
retry_max: 1h
batch_size: 50
soft_bounce_limit: 5
http: { listen: "0.0.0.0:9000" }
transport:
  url: smtp://relay.example:2525
  concurrency: 2
  rate: 14/s
  timeout: 30s
  relays:
    - { name: ses, url: "smtps://email-smtp.example:465", username_env: SES_USER, password_env: SES_PASS,
        concurrency: 8, rate: 14/s, window: 50000/24h, from_domains: [acme.example, Other.example], timeout: 2m }
    - name: backup
      url: smtp://backup.example
      from_domains: backup.example
domains:
  Gmail.com: { rate: 20/s, concurrency: 5 }
  yahoo.com: { rate: 100/m }
store:
  url: sqlite://./db/main.db
dkim:
  - domain: Acme.Example
    selector: s2026
    key_file: ./keys/s2026.pem
subscribe:
  from: "Acme <hello@acme.example>"
  subject: Confirm please
  rate: 5/m
  confirm_ttl: 2d
secrets:
  token_key_env: MY_TOKEN_KEY
  admin_token_env: MY_ADMIN
)");
  auto cfg = config::load(path);
  std::string base = fs::path(path).parent_path().string();
  CHECK(cfg.data_dir == "./data");
  CHECK(cfg.campaigns_dir == "camp");
  CHECK(cfg.resolve(cfg.campaigns_dir) == base + "/camp");
  CHECK(cfg.resolve(cfg.templates_dir) == "/opt/tpl");
  CHECK(cfg.resolve(cfg.rules_dir) == base + "/r");
  CHECK(cfg.webhooks_dir == "./w");
  CHECK(cfg.public_url == "https://mail.acme.example");
  CHECK(cfg.log_level == "debug");
  CHECK(cfg.max_attempts == 3);
  CHECK(cfg.retry_base_seconds == 120);
  CHECK(cfg.retry_max_seconds == 3600);
  CHECK(cfg.batch_size == 50);
  CHECK(cfg.soft_bounce_limit == 5);
  CHECK(cfg.http_listen == "0.0.0.0:9000");

  // The short form comes first, as relay "default", then the listed relays in order.
  REQUIRE(cfg.relays.size() == 3);
  CHECK(cfg.relays[0].name == "default");
  CHECK(cfg.relays[0].url == "smtp://relay.example:2525");
  CHECK(cfg.relays[0].concurrency == 2);
  CHECK(cfg.relays[0].rate.per_second() == doctest::Approx(14));
  CHECK(cfg.relays[0].timeout_seconds == 30);
  const auto& ses = cfg.relays[1];
  CHECK(ses.name == "ses");
  CHECK(ses.url == "smtps://email-smtp.example:465");
  CHECK(ses.username == "ses-user");
  CHECK(ses.password == "ses-pass");
  CHECK(ses.concurrency == 8);
  CHECK(ses.rate.count == 14);
  REQUIRE(ses.window);
  CHECK(ses.window->count == 50000);
  CHECK(ses.window->period_seconds == 86400);
  CHECK(ses.from_domains == std::vector<std::string>{"acme.example", "other.example"});  // lower-cased
  CHECK(ses.timeout_seconds == 120);
  CHECK(cfg.relays[2].name == "backup");
  CHECK(cfg.relays[2].from_domains == std::vector<std::string>{"backup.example"});
  CHECK(cfg.relays[2].concurrency == 4);

  REQUIRE(cfg.domains.size() == 3);  // with the "*" default
  REQUIRE(cfg.domains.contains("gmail.com"));  // domain names are lower-cased
  CHECK(cfg.domains["gmail.com"].rate.count == 20);
  CHECK(cfg.domains["gmail.com"].concurrency == 5);
  CHECK(cfg.domains["yahoo.com"].rate.period_seconds == 60);
  CHECK(cfg.domains["yahoo.com"].concurrency == 0);

  CHECK(cfg.store_url == "sqlite://./db/main.db");
  CHECK(cfg.database_path() == base + "/db/main.db");
  REQUIRE(cfg.dkim.size() == 1);
  CHECK(cfg.dkim[0].domain == "acme.example");
  CHECK(cfg.dkim[0].selector == "s2026");
  CHECK(cfg.dkim[0].key_file == "./keys/s2026.pem");
  CHECK(cfg.subscribe.from == "Acme <hello@acme.example>");
  CHECK(cfg.subscribe.subject == "Confirm please");
  CHECK(cfg.subscribe.rate.count == 5);
  CHECK(cfg.subscribe.rate.period_seconds == 60);
  CHECK(cfg.subscribe.confirm_ttl_seconds == 2 * 86400);
  CHECK(cfg.token_key_env == "MY_TOKEN_KEY");
  CHECK(cfg.token_key == "k3y");
  CHECK(cfg.admin_token == "adm1n");
}

TEST_CASE("config: the relays list alone has no default relay") {
  CleanEnv env;
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml",
                               "transport:\n  relays:\n    - { name: a, url: \"smtp://a.example\" }\n"
                               "    - { name: b, url: \"smtp://b.example\", rate: 1/s }\n");
  auto cfg = config::load(path);
  REQUIRE(cfg.relays.size() == 2);
  CHECK(cfg.relays[0].name == "a");
  CHECK(cfg.relays[1].name == "b");
  CHECK(cfg.relays[1].rate.count == 1);
}

TEST_CASE("config: CAMPAIGND_* variables override the file") {
  CleanEnv env;
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml",
                               "data_dir: ./data\npublic_url: http://file.example\ntransport:\n  url: smtp://file.example\n"
                               "  concurrency: 2\n");
  EnvVar url("CAMPAIGND_TRANSPORT_URL", "smtp://env.example:2525"), conc("CAMPAIGND_TRANSPORT_CONCURRENCY", "7"),
      rate("CAMPAIGND_TRANSPORT_RATE", "3/s"), data("CAMPAIGND_DATA_DIR", "/tmp/env-data"),
      pub("CAMPAIGND_PUBLIC_URL", "https://env.example"), listen("CAMPAIGND_HTTP_LISTEN", "127.0.0.1:1"),
      level("CAMPAIGND_LOG_LEVEL", "warn"), camps("CAMPAIGND_CAMPAIGNS_DIR", "/tmp/env-campaigns"),
      secret("CAMPAIGND_SECRET", "s3cret"), admin("CAMPAIGND_ADMIN_TOKEN", "t0ken");
  auto cfg = config::load(path);
  REQUIRE(cfg.relays.size() == 1);
  CHECK(cfg.relays[0].url == "smtp://env.example:2525");
  CHECK(cfg.relays[0].concurrency == 7);
  CHECK(cfg.relays[0].rate.count == 3);
  CHECK(cfg.data_dir == "/tmp/env-data");
  CHECK(cfg.database_path() == "/tmp/env-data/campaignd.db");
  CHECK(cfg.public_url == "https://env.example");
  CHECK(cfg.http_listen == "127.0.0.1:1");
  CHECK(cfg.log_level == "warn");
  CHECK(cfg.campaigns_dir == "/tmp/env-campaigns");
  CHECK(cfg.token_key == "s3cret");
  CHECK(cfg.admin_token == "t0ken");
}

TEST_CASE("config: with no transport section, the outbox follows an overridden data_dir") {
  CleanEnv env;
  EnvVar data("CAMPAIGND_DATA_DIR", "/tmp/elsewhere");
  auto cfg = config::defaults("/srv");
  REQUIRE(cfg.relays.size() == 1);
  CHECK(cfg.relays[0].url == "maildir:///tmp/elsewhere/outbox");
  EnvVar store("CAMPAIGND_STORE_URL", "sqlite:///tmp/x/other.db");
  CHECK(config::defaults("/srv").database_path() == "/tmp/x/other.db");
}

TEST_CASE("config: bad override values are errors") {
  CleanEnv env;
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml", "");
  {
    EnvVar conc("CAMPAIGND_TRANSPORT_CONCURRENCY", "0");
    CHECK_THROWS_WITH_AS(config::load(path), doctest::Contains("CAMPAIGND_TRANSPORT_CONCURRENCY"),
                         config::ConfigError);
  }
  {
    EnvVar conc("CAMPAIGND_TRANSPORT_CONCURRENCY", "many");
    CHECK_THROWS_AS(config::load(path), config::ConfigError);
  }
  {
    EnvVar rate("CAMPAIGND_TRANSPORT_RATE", "fast");
    CHECK_THROWS_WITH_AS(config::load(path), doctest::Contains("CAMPAIGND_TRANSPORT_RATE"), config::ConfigError);
  }
  {
    EnvVar store("CAMPAIGND_STORE_URL", "mysql://db.example/campaignd");
    CHECK_THROWS_WITH_AS(config::load(path), doctest::Contains("expected sqlite://PATH or postgresql://"),
                         config::ConfigError);
  }
  {
    EnvVar store("CAMPAIGND_STORE_URL", "postgresql://u:secret@db.example/campaignd");
    auto cfg = config::load(path);
    CHECK(cfg.store_is_postgresql());
    CHECK(cfg.store_target() == "postgresql://u:secret@db.example/campaignd");
  }
}

TEST_CASE("config: unknown keys name file:line:col") {
  CleanEnv env;
  testing::TempFolder tmp;
  const std::string path = tmp.file("campaignd.yaml");
  CHECK(load_error(tmp, "data_dir: ./var\n\nbogus: 1\n") == path + ":3:1: unknown config key 'bogus'");
  CHECK(load_error(tmp, "transport:\n  url: smtp://x.example\n  colour: blue\n") ==
        path + ":3:3: unknown transport key 'colour'");
  CHECK(load_error(tmp, "http:\n  port: 80\n") == path + ":2:3: unknown http key 'port'");
  CHECK(load_error(tmp, "store: { url: \"sqlite://x.db\", pool: 3 }\n") ==
        path + ":1:32: unknown store key 'pool'");
  CHECK(load_error(tmp, "secrets:\n  token_key: abc\n") == path + ":2:3: unknown secrets key 'token_key'");
  CHECK(load_error(tmp, "transport:\n  relays:\n    - url: smtp://a.example\n      speed: 3\n") ==
        path + ":4:7: unknown relay key 'speed'");
  CHECK(load_error(tmp, "domains:\n  gmail.com: { rate: 1/s, burst: 3 }\n") ==
        path + ":2:27: unknown domain limit key 'burst'");
  CHECK(load_error(tmp, "dkim:\n  - { domain: a.example, selector: s, key_file: k, algo: rsa }\n") ==
        path + ":2:52: unknown dkim key 'algo'");
  CHECK(load_error(tmp, "subscribe:\n  sender: x@y.example\n") == path + ":2:3: unknown subscribe key 'sender'");
}

TEST_CASE("config: bad rates, counts and durations point at the value") {
  CleanEnv env;
  testing::TempFolder tmp;
  const std::string path = tmp.file("campaignd.yaml");
  CHECK(load_error(tmp, "transport:\n  rate: fast\n") ==
        path + ":2:9: expected a rate such as 50/s or 50000/24h");
  CHECK(load_error(tmp, "transport:\n  rate: 50/0s\n") ==
        path + ":2:9: expected a rate such as 50/s or 50000/24h");
  CHECK(load_error(tmp, "domains:\n  gmail.com: { rate: lots }\n") ==
        path + ":2:22: expected a rate such as 50/s or 50000/24h");
  CHECK(load_error(tmp, "transport:\n  concurrency: 0\n") ==
        path + ":2:16: concurrency must be a whole number from 1 to 512");
  CHECK(load_error(tmp, "transport:\n  concurrency: 513\n") ==
        path + ":2:16: concurrency must be a whole number from 1 to 512");
  CHECK(load_error(tmp, "transport:\n  concurrency: four\n") ==
        path + ":2:16: concurrency must be a whole number from 1 to 512");
  CHECK(load_error(tmp, "transport:\n  concurrency: 2.5\n") ==
        path + ":2:16: concurrency must be a whole number from 1 to 512");
  CHECK(load_error(tmp, "max_attempts: 0\n") == path + ":1:15: max_attempts must be a whole number from 1 to 1000");
  CHECK(load_error(tmp, "retry_base: soon\n") == path + ":1:13: retry_base must be a duration such as 30s, 5m, 2h");
  CHECK(load_error(tmp, "subscribe:\n  confirm_ttl: -1d\n") ==
        path + ":2:16: confirm_ttl must be a duration such as 30s, 5m, 2h");
}

TEST_CASE("config: warm-up schedules, the default destination limit and throttling") {
  CleanEnv env;
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml",
                               "transport:\n  relays:\n"
                               "    - { name: fresh, url: \"smtp://a.example\", warmup: [500, 1000, 2000],"
                               " warmup_start: 2026-11-01 }\n"
                               "domains:\n  \"*\": { concurrency: 8, rate: 30/s }\n  gmail.com: { rate: 20/s }\n"
                               "throttling: { pause: 2s, max_pause: 10m, recovery: 30s }\n");
  auto cfg = config::load(path);
  REQUIRE(cfg.relays.size() == 1);
  CHECK(cfg.relays[0].warmup == std::vector<std::int64_t>{500, 1000, 2000});
  CHECK(cfg.relays[0].warmup_start == util::parse_iso8601("2026-11-01"));
  CHECK(cfg.domains["*"].concurrency == 8);
  CHECK(cfg.domains["*"].rate.count == 30);
  CHECK(cfg.domains["gmail.com"].rate.count == 20);
  CHECK(cfg.throttling.pause_seconds == 2);
  CHECK(cfg.throttling.max_pause_seconds == 600);
  CHECK(cfg.throttling.recovery_seconds == 30);
  const std::string file = tmp.file("campaignd.yaml");
  CHECK(load_error(tmp, "transport:\n  relays:\n    - { name: a, url: x, warmup: [] }\n") ==
        file + ":3:34: warmup must be a list of daily volumes, e.g. [500, 1000, 2000]");
  CHECK(load_error(tmp, "transport:\n  relays:\n    - { name: a, url: x, warmup: [10, -1] }\n").find(":3:39:") !=
        std::string::npos);
  CHECK(load_error(tmp, "transport:\n  relays:\n    - { name: a, url: x, warmup_start: soon }\n") ==
        file + ":3:40: warmup_start: expected a date such as 2026-11-01");
  CHECK(load_error(tmp, "transport:\n  relays:\n    - { name: a, url: x }\n    - { name: a, url: y }\n") ==
        file + ":4:7: two relays are named 'a'");
  CHECK(load_error(tmp, "throttling: { pause: 0s }\n") ==
        file + ":1:13: throttling: pause must be at least 1s and at most max_pause");
  CHECK(load_error(tmp, "throttling: { speed: 1 }\n") == file + ":1:15: unknown throttling key 'speed'");
}

TEST_CASE("config: wrong shapes, missing pieces and bad addresses") {
  CleanEnv env;
  testing::TempFolder tmp;
  const std::string path = tmp.file("campaignd.yaml");
  CHECK(load_error(tmp, "- a\n- b\n") == path + ":1:1: config must be a mapping");
  CHECK(load_error(tmp, "transport: smtp://x.example\n") == path + ":1:12: transport must be a mapping");
  CHECK(load_error(tmp, "transport:\n  relays: { url: x }\n") == path + ":2:11: transport.relays must be a list");
  CHECK(load_error(tmp, "transport:\n  relays:\n    - name: nourl\n") == path + ":3:7: relay needs a url");
  CHECK(load_error(tmp, "data_dir: [a, b]\n") == path + ":1:11: data_dir must be a single value");
  CHECK(load_error(tmp, "dkim: { domain: a.example }\n") == path + ":1:7: dkim must be a list");
  CHECK(load_error(tmp, "dkim:\n  - domain: a.example\n    selector: s\n") ==
        path + ":2:5: dkim entry needs domain, selector and key_file");
  CHECK(load_error(tmp, "subscribe:\n  from: not an address\n") ==
        path + ":2:9: subscribe.from: not a valid address");
  CHECK(load_error(tmp, "store:\n  url: mysql://u:secret@db.example/x\n") ==
        "store.url: expected sqlite://PATH or postgresql://… (got mysql:…)");
}

TEST_CASE("config: YAML syntax errors carry line and column") {
  CleanEnv env;
  testing::TempFolder tmp;
  const std::string path = tmp.file("campaignd.yaml");
  CHECK(load_error(tmp, "data_dir: ./var\nhttp: b\n  c: d\n") == path + ":3:4: illegal map value");
  CHECK(load_error(tmp, "data_dir: ./var\n\tlog_level: debug\n") ==
        path + ":2:1: illegal tab when looking for indentation");
  std::string message = load_error(tmp, "data_dir: ./var\nhttp: { listen: x\n");
  CAPTURE(message);
  CHECK(message.starts_with(path + ":"));
  CHECK(message.find("end of map flow not found") != std::string::npos);
}

TEST_CASE("config: a missing file is an error naming it") {
  CleanEnv env;
  testing::TempFolder tmp;
  CHECK_THROWS_WITH_AS(config::load(tmp.file("nope.yaml")), doctest::Contains("nope.yaml"), config::ConfigError);
}

TEST_CASE("config: resolve() and database_path() against the config's folder") {
  CleanEnv env;
  testing::TempFolder tmp;
  fs::create_directories(tmp.file("etc"));
  std::string path = tmp.write("etc/campaignd.yaml", "data_dir: ../var\nstore:\n  url: sqlite:///abs/db.sqlite\n");
  auto cfg = config::load(path);
  std::string base = fs::path(path).parent_path().string();
  CHECK(cfg.base_dir == base);
  CHECK(cfg.resolve("x/y.txt") == base + "/x/y.txt");
  CHECK(cfg.resolve("./x/../y") == base + "/y");
  CHECK(cfg.resolve(cfg.data_dir) == fs::path(base).parent_path().string() + "/var");
  CHECK(cfg.resolve("/etc/passwd") == "/etc/passwd");
  CHECK(cfg.resolve("") == "");
  CHECK(cfg.database_path() == "/abs/db.sqlite");

  config::Config bare;  // no base: paths stay as written
  CHECK(bare.resolve("x/y") == "x/y");
}

TEST_CASE("config: a rate written as a list is a ConfigError, not a YAML exception") {
  CleanEnv env;
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml", "transport:\n  rate: [1, 2]\n");
  CHECK_THROWS_WITH_AS(config::load(path), doctest::Contains((path + ":2:9:").c_str()), config::ConfigError);
}

TEST_CASE("config: the default outbox does not depend on key order") {
  CleanEnv env;
  testing::TempFolder tmp;
  std::string path = tmp.write("campaignd.yaml", "transport:\n  concurrency: 2\ndata_dir: ./data\n");
  auto cfg = config::load(path);
  REQUIRE(cfg.relays.size() == 1);
  CHECK(cfg.relays[0].url == "maildir://./data/outbox");

  std::string path2 = tmp.write("campaignd.yaml", "transport:\n  concurrency: 2\n");
  EnvVar data("CAMPAIGND_DATA_DIR", "/tmp/env-data");
  auto cfg2 = config::load(path2);
  CHECK(cfg2.relays[0].url == "maildir:///tmp/env-data/outbox");
}
