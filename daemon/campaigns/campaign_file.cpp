#include "daemon/campaigns/campaign_file.hpp"

#include <yaml-cpp/yaml.h>

#include "daemon/util/yaml_place.hpp"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::campaigns {

namespace {

using util::yaml_place;
using util::yaml_text_place;

const std::set<std::string> kCampaignKeys = {"name",     "from",     "reply_to", "subject", "template", "segment",
                                             "schedule", "throttle", "topic",    "tracking", "description"};

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
  for (const auto& kv : root) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& v = kv.second;
    if (!kCampaignKeys.contains(key)) {
      error(kv.first, "unknown key '" + key + "' (known: name, from, reply_to, subject, template, segment, schedule, "
                      "throttle, topic, tracking)");
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
    }
  }
  if (!have_from) errors.push_back({{path, 1, 1}, "missing required key 'from'"});
  if (!have_subject) errors.push_back({{path, 1, 1}, "missing required key 'subject'"});
  if (!have_template) errors.push_back({{path, 1, 1}, "missing required key 'template'"});
  out.file = std::move(c);
  return out;
}

}  // namespace campaignd::campaigns
