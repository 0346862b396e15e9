// The daemon's configuration (campaignd.yaml), parsed once at start-up or on SIGHUP.
// Every key of SPEC.md's config section, with its default; CAMPAIGND_<KEY> environment
// variables override file values (e.g. CAMPAIGND_TRANSPORT_URL).
#pragma once

#include <map>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "daemon/util/rate.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::config {

struct RelayConfig {
  std::string name;
  std::string url;                 // maildir://PATH, smtp://host:port, smtps://host:port
  std::string username;            // resolved from username_env
  std::string password;            // resolved from password_env; never logged
  int concurrency = 4;
  util::Rate rate;                 // 0 = unlimited
  std::optional<util::Rate> window;
  std::vector<std::string> from_domains;
  int timeout_seconds = 60;        // per SMTP command / connection stage
  std::vector<std::int64_t> warmup;  // daily volume schedule: day 1, day 2, ...; then no cap
  std::optional<std::int64_t> warmup_start;  // unix time of day 1; default: the first day it ran
};

struct DomainLimit {
  util::Rate rate;
  int concurrency = 0;             // 0 = no per-domain cap
};

// How the sender slows down when a relay or destination pushes back (421, 4.7.x, "rate").
struct ThrottlingConfig {
  std::int64_t pause_seconds = 60;      // first pause; doubles while throttling repeats
  std::int64_t max_pause_seconds = 1800;
  std::int64_t recovery_seconds = 60;   // each clean period gives back a tenth of the flow
};

struct DkimKey {
  std::string domain;
  std::string selector;
  std::string key_file;
};

// Double opt-in for POST /api/subscribe.
struct SubscribeConfig {
  std::string from;  // "Name <addr>" of the confirmation mail; empty = the endpoint answers 503
  std::string subject = "Please confirm your subscription";
  util::Rate rate{10, 60};                   // sign-ups per client address (10 a minute)
  std::int64_t confirm_ttl_seconds = 7 * 86400;  // how long a confirmation link works
};

struct Config {
  std::string file;                // where it was read from ("" = defaults only)
  std::string base_dir;            // relative paths are resolved against the config file's folder
  std::string data_dir = "./var";
  std::string campaigns_dir = "./campaigns";
  std::string templates_dir = "./templates";
  std::string rules_dir = "./rules";
  std::string webhooks_dir = "./webhooks";
  std::string public_url = "http://127.0.0.1:8025";
  std::string http_listen = "127.0.0.1:8025";
  std::vector<RelayConfig> relays;  // at least one after load; the short form becomes relay "default"
  // By destination domain or provider key ("gmail.com" covers googlemail.com); "*" = default.
  std::map<std::string, DomainLimit> domains{{"*", DomainLimit{{}, 20}}};
  ThrottlingConfig throttling;
  // Several nodes on one PostgreSQL: how often a node reports and renews its leases, and how
  // long a claimed send stays another node's before it is queued again.
  std::int64_t node_heartbeat_seconds = 10;
  std::int64_t node_lease_seconds = 60;
  std::string store_url;           // sqlite://PATH (default sqlite://<data_dir>/campaignd.db) or postgresql://…
  std::vector<DkimKey> dkim;
  std::string token_key_env = "CAMPAIGND_SECRET";
  std::string admin_token_env = "CAMPAIGND_ADMIN_TOKEN";
  std::string token_key;           // resolved value of token_key_env
  std::string admin_token;         // resolved value of admin_token_env
  SubscribeConfig subscribe;
  std::int64_t scanner_window_seconds = 10;
  std::int64_t attribution_window_seconds = 7 * 86400;  // purchases credited to a click this recent  // opens/clicks this soon after sending count as machine
  std::string log_level = "info";
  int max_attempts = 8;            // temporary failures before a send is marked failed
  int retry_base_seconds = 300;    // first backoff; doubles up to retry_max_seconds
  int retry_max_seconds = 4000;
  int batch_size = 500;            // sends claimed per scheduler round
  int unrecorded_per_session = 1;  // sent messages per SMTP session whose outcome may be uncommitted
  int soft_bounce_limit = 3;       // soft bounces in a row before an address is suppressed

  // Absolute (or base_dir-relative) paths derived from the keys above.
  std::string resolve(const std::string& path) const;
  std::string database_path() const;  // the SQLite file (when store.url is sqlite://)
  bool store_is_postgresql() const;
  // What store::Store::open takes: the SQLite file's resolved path, or the postgresql:// URL.
  std::string store_target() const;
};

// Reads `path` (a missing file is an error) and applies CAMPAIGND_* overrides.
// Throws ConfigError: a bad config stops start-up with a message naming file:line:col.
Config load(const std::string& path);
// The defaults alone (plus CAMPAIGND_* overrides), relative to `base_dir`.
Config defaults(const std::string& base_dir);

struct ConfigError : std::runtime_error {
  explicit ConfigError(const PlacedError& e) : std::runtime_error(e.to_string()) {}
  explicit ConfigError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace campaignd::config
