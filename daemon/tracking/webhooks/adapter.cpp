// Reading an adapter yaml into an Adapter; every mistake is reported with its file:line:col and
// parsing goes on, so `campaignd validate` shows all of them at once.
#include "daemon/tracking/webhooks/adapter.hpp"

#include <yaml-cpp/yaml.h>

#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/util/clock.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking::webhooks {

namespace {

namespace fs = std::filesystem;

constexpr std::array<const char*, 9> kOurKinds = {"delivered", "deferred",     "bounced",    "opened",   "clicked",
                                                  "replied",   "unsubscribed", "complained", "converted"};

bool is_our_kind(const std::string& k) {
  for (const char* ours : kOurKinds)
    if (k == ours) return true;
  return false;
}

class AdapterParser {
 public:
  AdapterParser(std::string file, std::vector<PlacedError>& errors) : file_(std::move(file)), errors_(errors) {}

  std::optional<Adapter> parse(const std::string& text);

 private:
  SourcePlace place(const YAML::Node& node) const {
    auto m = node.Mark();
    if (m.is_null()) return {file_, 0, 0};
    return {file_, m.line + 1, m.column + 1};
  }
  void error(const YAML::Node& node, const std::string& message) { error_at(place(node), message); }
  void error_at(SourcePlace at, const std::string& message) {
    errors_.push_back({std::move(at), message});
    ++count_;
  }
  // For what is missing rather than wrong: the file's first line.
  void error_in_file(const std::string& message) { error_at({file_, 1, 1}, message); }
  // Reports keys of `map` not in `known` (typos would otherwise silently map nothing).
  void check_keys(const YAML::Node& map, std::initializer_list<const char*> known, const std::string& where);
  std::optional<std::string> scalar(const YAML::Node& node, const std::string& key);
  std::optional<JsonPath> path(const YAML::Node& node, const std::string& key);
  FieldSpec field(const YAML::Node& node, const std::string& key);
  void signature(const YAML::Node& node, Adapter& a);
  void events(const YAML::Node& node, Adapter& a);
  std::vector<KindRule> kind_rules(const YAML::Node& node, const std::string& provider_kind);
  std::optional<KindRule> kind_rule(const YAML::Node& node, const std::string& provider_kind);

  std::string file_;
  std::vector<PlacedError>& errors_;
  int count_ = 0;
};

void AdapterParser::check_keys(const YAML::Node& map, std::initializer_list<const char*> known,
                               const std::string& where) {
  for (auto it = map.begin(); it != map.end(); ++it) {
    std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (!ok) error(it->first, "unknown key '" + key + "' in " + where);
  }
}

std::optional<std::string> AdapterParser::scalar(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) {
    error(node, key + " must be a single value");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<JsonPath> AdapterParser::path(const YAML::Node& node, const std::string& key) {
  auto text = scalar(node, key);
  if (!text) return std::nullopt;
  auto p = JsonPath::parse(*text);
  if (!p) {
    // The path's column is inside the value: point at it when the scalar is plain.
    auto at = place(node);
    std::string message = p.error();
    long long col = 0;
    if (message.starts_with("column ")) {
      auto colon = message.find(':');
      if (util::parse_int(std::string_view(message).substr(7, colon - 7), col) && at.col > 0) {
        bool quoted = node.Tag() == "!";  // the mark is on the opening quote
        at.col += static_cast<int>(col) - 1 + (quoted ? 1 : 0);
        message = message.substr(colon + 2);
      }
    }
    error_at(at, key + ": " + message);
    return std::nullopt;
  }
  return std::move(*p);
}

FieldSpec AdapterParser::field(const YAML::Node& node, const std::string& key) {
  FieldSpec spec;
  auto one = [&](const YAML::Node& item) {
    auto text = scalar(item, key);
    if (!text) return;
    if (text->starts_with("header:")) {
      std::string name = util::to_lower(util::trim(std::string_view(*text).substr(7)));
      if (name.empty()) {
        error(item, key + ": header: needs a header name");
        return;
      }
      spec.push_back({std::nullopt, name});
      return;
    }
    if (auto p = path(item, key)) spec.push_back({std::move(*p), {}});
  };
  if (node.IsSequence()) {
    if (node.size() == 0) error(node, key + " must name at least one source");
    for (const auto& item : node) one(item);
  } else {
    one(node);
  }
  return spec;
}

void AdapterParser::signature(const YAML::Node& node, Adapter& a) {
  if (!node.IsMap()) {
    error(node, "signature must be a mapping with a scheme");
    return;
  }
  check_keys(node, {"scheme", "secret_env", "tolerance", "certificate_file", "topic_arns", "confirm_subscriptions"},
             "signature");
  auto& s = a.signature;
  if (!node["scheme"]) {
    error(node, "signature needs a scheme (sendgrid-ecdsa, mailgun-hmac, postmark-basic, sns-rsa, "
                "standard-webhooks or none)");
  } else if (auto name = scalar(node["scheme"], "scheme"); name && !parse_scheme(*name, s.scheme)) {
    error(node["scheme"], "unknown signature scheme '" + *name +
                              "' (sendgrid-ecdsa, mailgun-hmac, postmark-basic, sns-rsa, standard-webhooks, none)");
  }
  if (node["secret_env"]) {
    if (auto v = scalar(node["secret_env"], "secret_env")) {
      bool ok = !v->empty();
      for (char c : *v) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
      if (ok)
        s.secret_env = *v;
      else
        error(node["secret_env"], "secret_env must be an environment variable name");
    }
  }
  if (node["tolerance"]) {
    auto v = node["tolerance"].IsScalar() ? util::parse_duration_seconds(node["tolerance"].Scalar()) : std::nullopt;
    if (v)
      s.tolerance_s = *v;
    else
      error(node["tolerance"], "tolerance must be a duration such as 5m (0 = not checked)");
  }
  if (const auto& certs = node["certificate_file"]) {
    fs::path base = fs::path(a.file).parent_path();
    auto add = [&](const YAML::Node& item) {
      if (auto v = scalar(item, "certificate_file")) {
        fs::path p(*v);
        s.certificate_files.push_back((p.is_absolute() || base.empty() ? p : base / p).string());
      }
    };
    if (certs.IsSequence())
      for (const auto& item : certs) add(item);
    else
      add(certs);
  }
  if (const auto& arns = node["topic_arns"]) {
    if (!arns.IsSequence()) error(arns, "topic_arns must be a list");
    else
      for (const auto& item : arns)
        if (auto v = scalar(item, "topic_arns")) s.topic_arns.push_back(*v);
  }
  if (const auto& confirm = node["confirm_subscriptions"]) {
    auto v = scalar(confirm, "confirm_subscriptions");
    if (v && (*v == "true" || *v == "yes"))
      s.confirm_subscriptions = true;
    else if (v && *v != "false" && *v != "no")
      error(confirm, "confirm_subscriptions must be true or false");
  }
  bool sns_only = !s.certificate_files.empty() || !s.topic_arns.empty() || s.confirm_subscriptions;
  if (sns_only && s.scheme != Scheme::sns_rsa)
    error(node, "certificate_file, topic_arns and confirm_subscriptions belong to the sns-rsa scheme");
}

std::optional<KindRule> AdapterParser::kind_rule(const YAML::Node& node, const std::string& provider_kind) {
  KindRule rule;
  if (node.IsScalar()) {
    rule.kind = node.Scalar();
  } else if (node.IsMap()) {
    check_keys(node, {"when", "kind", "bounce_type"}, "kinds." + provider_kind);
    if (!node["kind"]) {
      error(node, "kinds." + provider_kind + ": a rule needs a kind");
      return std::nullopt;
    }
    auto k = scalar(node["kind"], "kind");
    if (!k) return std::nullopt;
    rule.kind = *k;
    if (const auto& when = node["when"]) {
      if (!when.IsMap()) {
        error(when, "when must be a mapping of path: value (or [values])");
      } else {
        for (auto it = when.begin(); it != when.end(); ++it) {
          // Copies: the iterator's pair is a proxy that dies with the expression.
          const YAML::Node key = it->first, values = it->second;
          auto p = path(key, "when");
          KindRule::Condition c{p ? std::move(*p) : JsonPath{}, {}};
          if (values.IsSequence()) {
            for (const auto& v : values)
              if (auto s = scalar(v, "when value")) c.values.push_back(*s);
          } else if (auto s = scalar(values, "when value")) {
            c.values.push_back(*s);
          }
          if (p) rule.when.push_back(std::move(c));
        }
      }
    }
    if (const auto& bt = node["bounce_type"]) {
      auto v = scalar(bt, "bounce_type");
      if (v && *v != "hard" && *v != "soft") error(bt, "bounce_type must be hard or soft");
      else if (v) rule.bounce_type = *v;
      if (rule.kind != "bounced") error(bt, "bounce_type applies only to kind bounced");
    }
  } else {
    error(node, "kinds." + provider_kind + " must be a kind, a rule or a list of rules");
    return std::nullopt;
  }
  if (rule.kind != "ignore" && !is_our_kind(rule.kind)) {
    error(node.IsMap() ? node["kind"] : node,
          "unknown kind '" + rule.kind +
              "' (delivered, deferred, bounced, opened, clicked, replied, unsubscribed, complained, converted "
              "or ignore)");
    return std::nullopt;
  }
  return rule;
}

std::vector<KindRule> AdapterParser::kind_rules(const YAML::Node& node, const std::string& provider_kind) {
  std::vector<KindRule> rules;
  if (node.IsSequence()) {
    if (node.size() == 0) error(node, "kinds." + provider_kind + " has no rules");
    for (const auto& item : node)
      if (auto r = kind_rule(item, provider_kind)) rules.push_back(std::move(*r));
  } else if (auto r = kind_rule(node, provider_kind)) {
    rules.push_back(std::move(*r));
  }
  return rules;
}

void AdapterParser::events(const YAML::Node& node, Adapter& a) {
  if (!node.IsMap()) {
    error(node, "events must be a mapping");
    return;
  }
  check_keys(node,
             {"root", "decode", "kind", "kinds", "recipient", "message_id", "time", "time_format", "reason", "event_id",
              "url", "user_agent", "machine"},
             "events");
  if (node["root"]) {
    if (auto p = path(node["root"], "root")) {
      if (p->origin() == JsonPath::Origin::document) error(node["root"], "root: '$' already means the whole body here");
      a.root = std::move(*p);
    }
  } else {
    a.root = *JsonPath::parse("$");
  }
  if (const auto& d = node["decode"]) {
    auto v = scalar(d, "decode");
    if (v && *v == "json")
      a.decode_root = true;
    else if (v)
      error(d, "decode must be json (the root is a string holding JSON)");
  }
  if (!node["kind"])
    error(node, "events needs kind: the path of the provider's event type");
  else
    a.kind = field(node["kind"], "kind");
  if (const auto& kinds = node["kinds"]; !kinds || !kinds.IsMap() || kinds.size() == 0) {
    error(kinds ? kinds : node, "events needs kinds: a mapping from provider event types to ours");
  } else {
    for (auto it = kinds.begin(); it != kinds.end(); ++it) {
      auto name = scalar(it->first, "kinds key");
      if (!name) continue;
      std::string key = util::to_lower(*name);
      if (a.kinds.contains(key)) error(it->first, "kinds lists '" + *name + "' twice");
      a.kinds[key] = kind_rules(it->second, *name);
    }
  }
  auto optional_field = [&](const char* key, FieldSpec& out) {
    if (node[key]) out = field(node[key], key);
  };
  optional_field("recipient", a.recipient);
  optional_field("message_id", a.message_id);
  optional_field("time", a.time);
  optional_field("reason", a.reason);
  optional_field("event_id", a.event_id);
  optional_field("url", a.url);
  optional_field("user_agent", a.user_agent);
  optional_field("machine", a.machine);
  if (!node["recipient"] && !node["message_id"])
    error(node, "events needs recipient or message_id, or no event can be tied to a send");
  if (const auto& tf = node["time_format"]) {
    auto v = scalar(tf, "time_format");
    if (!v) {
    } else if (*v == "auto") {
      a.time_format = TimeFormat::auto_detect;
    } else if (*v == "unix") {
      a.time_format = TimeFormat::unix_seconds;
    } else if (*v == "unix_ms") {
      a.time_format = TimeFormat::unix_ms;
    } else if (*v == "iso8601") {
      a.time_format = TimeFormat::iso8601;
    } else {
      error(tf, "time_format must be auto, unix, unix_ms or iso8601");
    }
  }
}

std::optional<Adapter> AdapterParser::parse(const std::string& text) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors_.push_back({{file_, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1}, e.msg});
    return std::nullopt;
  }
  if (!root.IsMap()) {
    errors_.push_back({{file_, 1, 1}, "a webhook adapter is a mapping with signature: and events:"});
    return std::nullopt;
  }
  Adapter a;
  a.file = file_;
  a.provider = fs::path(file_).stem().string();
  try {
    check_keys(root, {"provider", "max_body_bytes", "signature", "events"}, "the adapter");
    if (const auto& p = root["provider"]) {
      if (auto v = scalar(p, "provider"); v && *v != a.provider)
        error(p, "provider '" + *v + "' must match the file name '" + a.provider + "'");
    }
    bool name_ok = !a.provider.empty();
    for (char c : a.provider)
      name_ok = name_ok && (std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) ||
                            c == '-' || c == '_');
    if (!name_ok) error_in_file("a provider name (the file name) is lower-case letters, digits, - and _");
    if (a.provider == "inbound") error_in_file("'inbound' is taken by the inbound reply route");
    if (const auto& m = root["max_body_bytes"]) {
      long long n = 0;
      if (!m.IsScalar() || !util::parse_int(m.Scalar(), n) || n < 1024 || n > (64LL << 20))
        error(m, "max_body_bytes must be a whole number from 1024 to 67108864");
      else
        a.max_body_bytes = static_cast<std::size_t>(n);
    }
    if (!root["signature"])
      error_in_file("the adapter needs signature: {scheme: ...} (scheme none to accept unsigned posts)");
    else
      signature(root["signature"], a);
    if (a.signature.secret_env.empty()) a.signature.secret_env = default_secret_env(a.provider);
    if (!root["events"])
      error_in_file("the adapter needs events:");
    else
      events(root["events"], a);
  } catch (const YAML::Exception& e) {
    errors_.push_back({{file_, e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1}, e.msg});
    return std::nullopt;
  }
  if (count_ > 0) return std::nullopt;
  return a;
}

}  // namespace

std::string default_secret_env(const std::string& provider) {
  std::string out = "CAMPAIGND_WEBHOOK_";
  for (char c : provider)
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                                                              : '_');
  return out + "_SECRET";
}

std::optional<Adapter> parse_adapter(const std::string& text, const std::string& file, std::vector<PlacedError>& errors) {
  return AdapterParser(file, errors).parse(text);
}

std::optional<Adapter> load_adapter(const std::string& path, std::vector<PlacedError>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({{path, 0, 0}, "cannot read the file"});
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_adapter(text.str(), path, errors);
}

}  // namespace campaignd::tracking::webhooks
