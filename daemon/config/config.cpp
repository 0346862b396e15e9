#include "daemon/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <filesystem>

#include "daemon/config/yaml_helpers.hpp"
#include "daemon/util/email_address.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::config {

namespace fs = std::filesystem;

std::string Config::resolve(const std::string& path) const {
  if (path.empty() || fs::path(path).is_absolute() || base_dir.empty()) return path;
  return (fs::path(base_dir) / path).lexically_normal().string();
}

std::string Config::database_path() const {
  if (store_url.rfind("sqlite://", 0) == 0) return resolve(store_url.substr(9));
  return resolve((fs::path(data_dir) / "campaignd.db").string());
}

bool Config::store_is_postgresql() const {
  return store_url.starts_with("postgresql://") || store_url.starts_with("postgres://");
}

std::string Config::store_target() const { return store_is_postgresql() ? store_url : database_path(); }

namespace {

std::string env_or_empty(const std::string& name) {
  if (name.empty()) return {};
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

// CAMPAIGND_<KEY> for a dotted key: "transport.url" -> CAMPAIGND_TRANSPORT_URL.
std::optional<std::string> env_override(std::string_view dotted) {
  std::string name = "CAMPAIGND_";
  for (char c : dotted) name.push_back(c == '.' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  const char* v = std::getenv(name.c_str());
  if (!v) return std::nullopt;
  return std::string(v);
}

util::Rate rate_or_throw(const YAML::Node& node, const std::string& file) {
  auto r = node.IsScalar() ? util::parse_rate(node.Scalar()) : std::nullopt;
  if (!r) throw ConfigError(PlacedError{place_of(node, file), "expected a rate such as 50/s or 50000/24h"});
  return *r;
}

RelayConfig parse_relay(const YAML::Node& node, const std::string& file) {
  RelayConfig relay;
  expect_map(node, file, "relay");
  for (const auto& kv : node) {
    auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    if (key == "name") relay.name = scalar(v, file, key);
    else if (key == "url") relay.url = scalar(v, file, key);
    else if (key == "username_env") relay.username = env_or_empty(scalar(v, file, key));
    else if (key == "password_env") relay.password = env_or_empty(scalar(v, file, key));
    else if (key == "concurrency") relay.concurrency = integer(v, file, key, 1, 512);
    else if (key == "rate") relay.rate = rate_or_throw(v, file);
    else if (key == "window") relay.window = rate_or_throw(v, file);
    else if (key == "timeout") relay.timeout_seconds = static_cast<int>(duration(v, file, key));
    else if (key == "from_domains") {
      relay.from_domains = string_list(v, file, key);
      for (auto& d : relay.from_domains) d = util::to_lower(d);
    } else if (key == "warmup") {
      if (!v.IsSequence() || v.size() == 0)
        throw ConfigError(PlacedError{place_of(v, file), "warmup must be a list of daily volumes, e.g. [500, 1000, 2000]"});
      for (const auto& day : v) relay.warmup.push_back(integer(day, file, "warmup", 1, 100'000'000));
    } else if (key == "warmup_start") {
      auto t = util::parse_iso8601(scalar(v, file, key));
      if (!t) throw ConfigError(PlacedError{place_of(v, file), "warmup_start: expected a date such as 2026-11-01"});
      relay.warmup_start = *t;
    } else throw ConfigError(PlacedError{place_of(kv.first, file), "unknown relay key '" + key + "'"});
  }
  if (relay.url.empty()) throw ConfigError(PlacedError{place_of(node, file), "relay needs a url"});
  if (relay.name.empty()) throw ConfigError(PlacedError{place_of(node, file), "relay needs a name"});
  return relay;
}

void parse_transport(Config& cfg, const YAML::Node& node, const std::string& file) {
  expect_map(node, file, "transport");
  RelayConfig short_form;
  short_form.name = "default";
  short_form.url = "";
  for (const auto& kv : node) {
    auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    if (key == "url") short_form.url = scalar(v, file, key);
    else if (key == "concurrency") short_form.concurrency = integer(v, file, key, 1, 512);
    else if (key == "rate") short_form.rate = rate_or_throw(v, file);
    else if (key == "username_env") short_form.username = env_or_empty(scalar(v, file, key));
    else if (key == "password_env") short_form.password = env_or_empty(scalar(v, file, key));
    else if (key == "timeout") short_form.timeout_seconds = static_cast<int>(duration(v, file, key));
    else if (key == "relays") {
      if (!v.IsSequence()) throw ConfigError(PlacedError{place_of(v, file), "transport.relays must be a list"});
      for (const auto& r : v) {
        auto relay = parse_relay(r, file);
        for (const auto& other : cfg.relays)
          if (other.name == relay.name)
            throw ConfigError(PlacedError{place_of(r, file), "two relays are named '" + relay.name + "'"});
        cfg.relays.push_back(std::move(relay));
      }
    } else {
      throw ConfigError(PlacedError{place_of(kv.first, file), "unknown transport key '" + key + "'"});
    }
  }
  // An empty url becomes the maildir outbox under data_dir in finish(), once data_dir is final.
  if (!short_form.url.empty() || cfg.relays.empty()) cfg.relays.insert(cfg.relays.begin(), short_form);
}

void finish(Config& cfg, bool transport_seen);

}  // namespace

Config load(const std::string& path) {
  Config cfg;
  cfg.file = path;
  cfg.base_dir = fs::absolute(path).parent_path().string();
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("cannot read config file " + path);
  } catch (const YAML::Exception& e) {
    throw ConfigError(PlacedError{{path, e.mark.line + 1, e.mark.column + 1}, e.msg});
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  expect_map(root, path, "config");
  bool transport_seen = false;
  for (const auto& kv : root) {
    auto key = kv.first.as<std::string>();
    const auto& v = kv.second;
    if (key == "data_dir") cfg.data_dir = scalar(v, path, key);
    else if (key == "campaigns_dir") cfg.campaigns_dir = scalar(v, path, key);
    else if (key == "templates_dir") cfg.templates_dir = scalar(v, path, key);
    else if (key == "rules_dir") cfg.rules_dir = scalar(v, path, key);
    else if (key == "webhooks_dir") cfg.webhooks_dir = scalar(v, path, key);
    else if (key == "public_url") cfg.public_url = scalar(v, path, key);
    else if (key == "log_level") cfg.log_level = scalar(v, path, key);
    else if (key == "max_attempts") cfg.max_attempts = integer(v, path, key, 1, 1000);
    else if (key == "retry_base") cfg.retry_base_seconds = static_cast<int>(duration(v, path, key));
    else if (key == "retry_max") cfg.retry_max_seconds = static_cast<int>(duration(v, path, key));
    else if (key == "batch_size") cfg.batch_size = integer(v, path, key, 1, 100000);
    else if (key == "unrecorded_per_session") cfg.unrecorded_per_session = integer(v, path, key, 1, 64);
    else if (key == "soft_bounce_limit") cfg.soft_bounce_limit = integer(v, path, key, 1, 1000);
    else if (key == "http") {
      expect_map(v, path, key);
      for (const auto& h : v) {
        auto hk = h.first.as<std::string>();
        if (hk == "listen") cfg.http_listen = scalar(h.second, path, hk);
        else throw ConfigError(PlacedError{place_of(h.first, path), "unknown http key '" + hk + "'"});
      }
    } else if (key == "transport") {
      transport_seen = true;
      parse_transport(cfg, v, path);
    } else if (key == "domains") {
      expect_map(v, path, key);
      for (const auto& d : v) {
        DomainLimit limit;
        expect_map(d.second, path, "domain limit");
        for (const auto& l : d.second) {
          auto lk = l.first.as<std::string>();
          if (lk == "rate") limit.rate = rate_or_throw(l.second, path);
          else if (lk == "concurrency") limit.concurrency = integer(l.second, path, lk, 1, 512);
          else throw ConfigError(PlacedError{place_of(l.first, path), "unknown domain limit key '" + lk + "'"});
        }
        cfg.domains[util::to_lower(d.first.as<std::string>())] = limit;
      }
    } else if (key == "throttling") {
      expect_map(v, path, key);
      for (const auto& e : v) {
        auto tk = e.first.as<std::string>();
        if (tk == "pause") cfg.throttling.pause_seconds = duration(e.second, path, tk);
        else if (tk == "max_pause") cfg.throttling.max_pause_seconds = duration(e.second, path, tk);
        else if (tk == "recovery") cfg.throttling.recovery_seconds = duration(e.second, path, tk);
        else throw ConfigError(PlacedError{place_of(e.first, path), "unknown throttling key '" + tk + "'"});
      }
      if (cfg.throttling.pause_seconds < 1 || cfg.throttling.max_pause_seconds < cfg.throttling.pause_seconds)
        throw ConfigError(PlacedError{place_of(v, path), "throttling: pause must be at least 1s and at most max_pause"});
    } else if (key == "store") {
      expect_map(v, path, key);
      for (const auto& s : v) {
        auto sk = s.first.as<std::string>();
        if (sk == "url") cfg.store_url = scalar(s.second, path, sk);
        else if (sk == "heartbeat") cfg.node_heartbeat_seconds = duration(s.second, path, sk);
        else if (sk == "lease") cfg.node_lease_seconds = duration(s.second, path, sk);
        else throw ConfigError(PlacedError{place_of(s.first, path), "unknown store key '" + sk + "'"});
      }
      if (cfg.node_heartbeat_seconds < 1 || cfg.node_lease_seconds < 3 * cfg.node_heartbeat_seconds)
        throw ConfigError(PlacedError{place_of(v, path), "store: heartbeat must be at least 1s and lease at least "
                                                          "three heartbeats"});
    } else if (key == "dkim") {
      if (!v.IsSequence()) throw ConfigError(PlacedError{place_of(v, path), "dkim must be a list"});
      for (const auto& d : v) {
        expect_map(d, path, "dkim entry");
        DkimKey k;
        for (const auto& e : d) {
          auto ek = e.first.as<std::string>();
          if (ek == "domain") k.domain = util::to_lower(scalar(e.second, path, ek));
          else if (ek == "selector") k.selector = scalar(e.second, path, ek);
          else if (ek == "key_file") k.key_file = scalar(e.second, path, ek);
          else throw ConfigError(PlacedError{place_of(e.first, path), "unknown dkim key '" + ek + "'"});
        }
        if (k.domain.empty() || k.selector.empty() || k.key_file.empty())
          throw ConfigError(PlacedError{place_of(d, path), "dkim entry needs domain, selector and key_file"});
        cfg.dkim.push_back(k);
      }
    } else if (key == "tracking") {
      expect_map(v, path, key);
      for (const auto& e : v) {
        auto tk = e.first.as<std::string>();
        if (tk == "scanner_window") cfg.scanner_window_seconds = duration(e.second, path, tk);
        else if (tk == "attribution_window") cfg.attribution_window_seconds = duration(e.second, path, tk);
        else throw ConfigError(PlacedError{place_of(e.first, path), "unknown tracking key '" + tk + "'"});
      }
    } else if (key == "subscribe") {
      expect_map(v, path, key);
      for (const auto& e : v) {
        auto sk = e.first.as<std::string>();
        if (sk == "from") {
          cfg.subscribe.from = scalar(e.second, path, sk);
          if (!util::parse_mailbox(cfg.subscribe.from))
            throw ConfigError(PlacedError{place_of(e.second, path), "subscribe.from: not a valid address"});
        } else if (sk == "subject") {
          cfg.subscribe.subject = scalar(e.second, path, sk);
        } else if (sk == "rate") {
          cfg.subscribe.rate = rate_or_throw(e.second, path);
        } else if (sk == "confirm_ttl") {
          cfg.subscribe.confirm_ttl_seconds = duration(e.second, path, sk);
        } else {
          throw ConfigError(PlacedError{place_of(e.first, path), "unknown subscribe key '" + sk + "'"});
        }
      }
    } else if (key == "secrets") {
      expect_map(v, path, key);
      for (const auto& s : v) {
        auto sk = s.first.as<std::string>();
        if (sk == "token_key_env") cfg.token_key_env = scalar(s.second, path, sk);
        else if (sk == "admin_token_env") cfg.admin_token_env = scalar(s.second, path, sk);
        else throw ConfigError(PlacedError{place_of(s.first, path), "unknown secrets key '" + sk + "'"});
      }
    } else {
      throw ConfigError(PlacedError{place_of(kv.first, path), "unknown config key '" + key + "'"});
    }
  }

  finish(cfg, transport_seen);
  return cfg;
}

Config defaults(const std::string& base_dir) {
  Config cfg;
  cfg.base_dir = base_dir;
  finish(cfg, false);
  return cfg;
}

namespace {

// Environment overrides, defaults that depend on other keys, secrets.
void finish(Config& cfg, bool transport_seen) {
  const std::string& path = cfg.file;
  // Environment overrides for scalar keys.
  for (auto [key, field] : {std::pair{"data_dir", &cfg.data_dir}, {"campaigns_dir", &cfg.campaigns_dir},
                            {"templates_dir", &cfg.templates_dir}, {"rules_dir", &cfg.rules_dir},
                            {"webhooks_dir", &cfg.webhooks_dir}, {"public_url", &cfg.public_url},
                            {"http.listen", &cfg.http_listen}, {"store.url", &cfg.store_url},
                            {"log_level", &cfg.log_level}}) {
    if (auto v = env_override(key)) *field = *v;
  }
  if (!transport_seen) parse_transport(cfg, YAML::Node(YAML::NodeType::Map), path);
  if (auto v = env_override("transport.url")) cfg.relays.front().url = *v;
  if (cfg.relays.front().url.empty())
    cfg.relays.front().url = "maildir://" + (std::filesystem::path(cfg.data_dir) / "outbox").string();
  if (auto v = env_override("transport.concurrency")) {
    long long n;
    if (!util::parse_int(*v, n) || n < 1 || n > 512) throw ConfigError("CAMPAIGND_TRANSPORT_CONCURRENCY: expected 1..512");
    cfg.relays.front().concurrency = static_cast<int>(n);
  }
  if (auto v = env_override("transport.rate")) {
    auto r = util::parse_rate(*v);
    if (!r) throw ConfigError("CAMPAIGND_TRANSPORT_RATE: expected a rate such as 50/s");
    cfg.relays.front().rate = *r;
  }
  if (cfg.store_url.empty()) cfg.store_url = "sqlite://" + (fs::path(cfg.data_dir) / "campaignd.db").string();
  if (!cfg.store_url.starts_with("sqlite://") && !cfg.store_url.starts_with("postgresql://") &&
      !cfg.store_url.starts_with("postgres://"))
    // Only the scheme is repeated: the rest may hold a password.
    throw ConfigError("store.url: expected sqlite://PATH or postgresql://… (got " +
                      cfg.store_url.substr(0, cfg.store_url.find(':')) + ":…)");
  cfg.token_key = env_or_empty(cfg.token_key_env);
  cfg.admin_token = env_or_empty(cfg.admin_token_env);
}

}  // namespace

}  // namespace campaignd::config
