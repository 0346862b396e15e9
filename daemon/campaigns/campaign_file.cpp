#include "daemon/campaigns/campaign_file.hpp"

#include <yaml-cpp/yaml.h>

#include "daemon/util/yaml_place.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::campaigns {

namespace {

using util::yaml_place;
using util::yaml_text_place;

const std::set<std::string> kCampaignKeys = {
    "name",     "from",     "reply_to",          "subject",       "template",  "segment", "schedule",
    "throttle", "topic",    "tracking",          "description",   "variants",  "ab_test", "exclude_unengaged",
    "frequency_cap",        "send_time",         "cost",          "relay"};

// Variant and relay names: they land in sends.variant, reports and logs.
bool is_identifier(std::string_view s, size_t max_size) {
  if (s.empty() || s.size() > max_size) return false;
  for (char ch : s)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) return false;
  return true;
}

// A plain decimal number, the whole text ("0.2", "250.00", "1e3"); no units, no sign games.
std::optional<double> parse_number(std::string_view text) {
  std::string s(util::trim(text));
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end != s.c_str() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// A duration of at least one second ("4h", "180d").
std::optional<std::int64_t> parse_positive_duration(std::string_view text) {
  auto d = util::parse_duration_seconds(util::trim(text));
  if (!d || *d <= 0) return std::nullopt;
  return d;
}

std::optional<AbMetric> parse_metric(std::string_view text) {
  std::string m = util::to_lower(util::trim(text));
  if (m == "opens") return AbMetric::opens;
  if (m == "clicks") return AbMetric::clicks;
  if (m == "replies") return AbMetric::replies;
  if (m == "conversions") return AbMetric::conversions;
  return std::nullopt;
}

// "K/PERIOD": at most K campaign emails per PERIOD, e.g. "3/7d".
std::optional<FrequencyCap> parse_frequency_cap(std::string_view text) {
  std::string s(util::trim(text));
  auto slash = s.find('/');
  if (slash == std::string::npos) return std::nullopt;
  std::string k(util::trim(std::string_view(s).substr(0, slash)));
  if (k.empty() || k.size() > 6) return std::nullopt;
  for (char ch : k)
    if (!std::isdigit(static_cast<unsigned char>(ch))) return std::nullopt;
  int max = std::stoi(k);
  auto period = parse_positive_duration(std::string_view(s).substr(slash + 1));
  if (max < 1 || !period) return std::nullopt;
  return FrequencyCap{max, *period, s};
}

using ErrorAt = std::function<void(const YAML::Node&, std::string)>;

// `variants:` — a list of { name, subject?, template? }, two or more, names unique.
std::vector<Variant> parse_variants(const YAML::Node& v, const std::string& path, const ErrorAt& error,
                                    const std::function<size_t()>& errors_seen) {
  std::vector<Variant> out;
  if (!v.IsSequence()) {
    error(v, "variants must be a list such as [{ name: a, subject: \"...\" }, { name: b, template: other }]");
    return out;
  }
  std::map<std::string, int> seen;  // name -> line of its first use
  for (const auto& item : v) {
    if (!item.IsMap()) {
      error(item, "a variant must be a mapping with name and subject and/or template");
      continue;
    }
    Variant variant;
    variant.place = util::yaml_place(item, path);
    bool named = false;
    size_t errors_before = errors_seen();
    for (const auto& kv : item) {
      std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      const YAML::Node& value = kv.second;
      if (key != "name" && key != "subject" && key != "template") {
        error(kv.first, "unknown variant key '" + key + "' (known: name, subject, template)");
        continue;
      }
      if (!value.IsScalar()) {
        error(value, "variant " + key + " must be a single value");
        continue;
      }
      std::string text = value.Scalar();
      if (key == "name") {
        std::string name(util::trim(text));
        if (!is_identifier(name, 64)) {
          error(value, "variant name must be 1-64 letters, digits, '-', '_' or '.'");
          continue;
        }
        if (auto it = seen.find(name); it != seen.end()) {
          error(value, "duplicate variant name '" + name + "' (first used on line " + std::to_string(it->second) + ")");
          continue;
        }
        seen[name] = util::yaml_place(value, path).line;
        variant.name = name;
        named = true;
      } else if (key == "subject") {
        if (util::trim(text).empty()) error(value, "variant subject is empty");
        else variant.subject = text;
      } else {
        std::string name(util::trim(text));
        if (name.empty()) {
          error(value, "variant template is empty");
        } else {
          variant.template_name = name;
          variant.template_place = util::yaml_place(value, path);
        }
      }
    }
    if (errors_seen() != errors_before) continue;  // one error per problem: no follow-ups
    if (!named) {
      error(item, "a variant needs a name");
      continue;
    }
    if (!variant.subject && !variant.template_name) {
      error(item, "variant '" + variant.name + "' must set a subject and/or a template (else it is the campaign itself)");
      continue;
    }
    out.push_back(std::move(variant));
  }
  if (v.size() < 2) error(v, "an A/B test needs at least two variants");
  return out;
}

// `ab_test:` — { fraction: 0.2, wait: 4h, metric: clicks, confidence: 0.95 }; wait and metric
// are required, fraction defaults to 0.2 and confidence to 0.95.
std::optional<AbTest> parse_ab_test(const YAML::Node& v, const ErrorAt& error) {
  if (!v.IsMap()) {
    error(v, "ab_test must be a mapping such as { fraction: 0.2, wait: 4h, metric: clicks, confidence: 0.95 }");
    return std::nullopt;
  }
  AbTest t;
  bool ok = true, have_wait = false, have_metric = false;
  for (const auto& kv : v) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& value = kv.second;
    if (key != "fraction" && key != "wait" && key != "metric" && key != "confidence") {
      error(kv.first, "unknown ab_test key '" + key + "' (known: fraction, wait, metric, confidence)");
      ok = false;
      continue;
    }
    if (!value.IsScalar()) {
      error(value, "ab_test " + key + " must be a single value");
      ok = false;
      continue;
    }
    const std::string& text = value.Scalar();
    if (key == "fraction") {
      auto f = parse_number(text);
      if (!f || *f <= 0.0 || *f >= 1.0) {
        error(value, "ab_test fraction must be a number between 0 and 1 (exclusive), e.g. 0.2");
        ok = false;
      } else {
        t.fraction = *f;
      }
    } else if (key == "wait") {
      have_wait = true;
      if (auto d = parse_positive_duration(text)) {
        t.wait_seconds = *d;
      } else {
        error(value, "ab_test wait must be a duration such as 30m, 4h or 1d");
        ok = false;
      }
    } else if (key == "metric") {
      have_metric = true;
      if (auto m = parse_metric(text)) {
        t.metric = *m;
      } else {
        error(value, "unknown ab_test metric '" + text + "' (known: opens, clicks, replies, conversions)");
        ok = false;
      }
    } else {
      auto c = parse_number(text);
      if (!c || *c <= 0.5 || *c >= 1.0) {
        error(value, "ab_test confidence must be a number between 0.5 and 1 (exclusive), e.g. 0.95");
        ok = false;
      } else {
        t.confidence = *c;
      }
    }
  }
  if (!have_wait) {
    error(v, "ab_test needs a wait (e.g. wait: 4h)");
    ok = false;
  }
  if (!have_metric) {
    error(v, "ab_test needs a metric (opens, clicks, replies or conversions)");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return t;
}

}  // namespace

std::expected<CampaignFile, std::vector<PlacedError>> parse_campaign_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(std::vector<PlacedError>{{{path, 0, 0}, "cannot read file"}});
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_campaign_text(ss.str(), path);
}

std::expected<CampaignFile, std::vector<PlacedError>> parse_campaign_text(const std::string& text,
                                                                         const std::string& path) {
  PartialParse parsed = parse_campaign_partial(text, path);
  if (!parsed.errors.empty()) return std::unexpected(std::move(parsed.errors));
  return std::move(parsed.file);
}

PartialParse parse_campaign_partial(const std::string& text, const std::string& path) {
  PartialParse out;
  std::vector<PlacedError>& errors = out.errors;
  auto error = [&](const YAML::Node& node, std::string message) {
    errors.push_back({yaml_place(node, path), std::move(message)});
  };
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    errors.push_back({{path, e.mark.line + 1, e.mark.column + 1}, e.msg});
    out.readable = false;
    return out;
  }
  if (!root.IsMap()) {
    errors.push_back({{path, 1, 1}, "a campaign file must be a YAML mapping (key: value lines)"});
    out.readable = false;
    return out;
  }
  std::string stem = std::filesystem::path(path).stem().string();
  if (root["trigger"]) {
    AutomationFile a{stem, path};
    if (auto n = root["name"]; n && n.IsScalar()) a.name = n.Scalar();
    out.file = a;
    return out;
  }

  Campaign c;
  c.file = path;
  c.name = stem;
  c.fingerprint = util::sha256_hex(text);
  auto scalar = [&](const YAML::Node& node, const std::string& key) -> std::optional<std::string> {
    if (!node.IsScalar()) {
      error(node, key + " must be a single value");
      return std::nullopt;
    }
    return node.Scalar();
  };
  bool have_from = false, have_subject = false, have_template = false;
  std::optional<YAML::Node> variants_node, ab_test_node;
  for (const auto& kv : root) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& v = kv.second;
    if (!kCampaignKeys.contains(key)) {
      error(kv.first, "unknown key '" + key + "' (known: name, from, reply_to, subject, template, segment, schedule, "
                      "throttle, topic, tracking, variants, ab_test, exclude_unengaged, frequency_cap, send_time, "
                      "cost, relay)");
      continue;
    }
    // The two keys whose values are structures, not single values.
    if (key == "variants") {
      variants_node = v;
      c.variants = parse_variants(v, path, error, [&] { return errors.size(); });
      continue;
    }
    if (key == "ab_test") {
      ab_test_node = v;
      c.ab_test = parse_ab_test(v, error);
      continue;
    }
    if (key == "from") have_from = true;
    if (key == "subject") have_subject = true;
    if (key == "template") have_template = true;
    auto value = scalar(v, key);
    if (!value) continue;
    if (key == "name") {
      std::string name(util::trim(*value));
      // Names starting with '_' are the daemon's own (built-in campaigns).
      bool ok = !name.empty() && name.size() <= 128 && name.front() != '_';
      for (char ch : name)
        if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) ok = false;
      if (!ok) error(v, "name must be 1-128 letters, digits, '-', '_' or '.', not starting with '_'");
      else c.name = name;
    } else if (key == "from") {
      if (auto box = util::parse_mailbox(*value)) c.from = *box;
      else error(v, "from: not a valid address: '" + *value + "'");
    } else if (key == "reply_to") {
      if (auto box = util::parse_mailbox(*value)) c.reply_to = *box;
      else error(v, "reply_to: not a valid address: '" + *value + "'");
    } else if (key == "subject") {
      if (util::trim(*value).empty()) error(v, "subject is empty");
      c.subject = *value;
    } else if (key == "template") {
      c.template_name = std::string(util::trim(*value));
      c.template_place = yaml_place(v, path);
    } else if (key == "segment") {
      c.segment = std::string(util::trim(*value));
      c.segment_place = yaml_text_place(v, path, text);
      if (c.segment.empty()) error(v, "segment is empty (use `all` for everyone)");
    } else if (key == "schedule") {
      if (util::iequals(util::trim(*value), "now")) {
        c.schedule_at.reset();
      } else if (auto t = util::parse_iso8601(*value)) {
        c.schedule_at = *t;
      } else {
        error(v, "schedule must be `now` or an ISO-8601 time such as 2026-12-01T09:00:00Z");
      }
    } else if (key == "throttle") {
      if (auto r = util::parse_rate(*value)) c.throttle = *r;
      else error(v, "throttle must be a rate such as 50/s or 1000/h");
    } else if (key == "topic") {
      c.topic = std::string(util::trim(*value));
    } else if (key == "tracking") {
      std::string b = util::to_lower(util::trim(*value));
      if (b == "true" || b == "on" || b == "yes") c.track = true;
      else if (b == "false" || b == "off" || b == "no") c.track = false;
      else error(v, "tracking must be true or false");
    } else if (key == "exclude_unengaged") {
      if (auto d = parse_positive_duration(*value)) c.exclude_unengaged_seconds = *d;
      else error(v, "exclude_unengaged must be a duration such as 180d");
    } else if (key == "frequency_cap") {
      if (auto cap = parse_frequency_cap(*value)) c.frequency_cap = *cap;
      else error(v, "frequency_cap must read K/PERIOD, at most K campaign emails per period, e.g. 3/7d");
    } else if (key == "send_time") {
      std::string t = util::to_lower(util::trim(*value));
      if (t == "best") c.send_time = SendTime::best;
      else if (t == "scheduled") c.send_time = SendTime::as_scheduled;
      else error(v, "send_time must be `best` (each contact's usual open hour) or `scheduled`");
    } else if (key == "cost") {
      auto cost = parse_number(*value);
      if (!cost || *cost < 0) error(v, "cost must be a number of at least 0, e.g. 250.00");
      else c.cost = *cost;
    } else if (key == "relay") {
      std::string relay(util::trim(*value));
      if (!is_identifier(relay, 128)) error(v, "relay must name a configured relay: letters, digits, '-', '_' or '.'");
      else c.relay = relay;
    }
  }
  // An A/B test is the two keys together.
  if (variants_node && !ab_test_node)
    error(*variants_node, "variants need an ab_test: { fraction: 0.2, wait: 4h, metric: clicks }");
  if (ab_test_node && !variants_node) error(*ab_test_node, "ab_test needs two or more variants");
  if (!have_from) errors.push_back({{path, 1, 1}, "missing required key 'from'"});
  if (!have_subject) errors.push_back({{path, 1, 1}, "missing required key 'subject'"});
  if (!have_template) errors.push_back({{path, 1, 1}, "missing required key 'template'"});
  out.file = std::move(c);
  return out;
}

}  // namespace campaignd::campaigns
