// Parsing of automation files: the trigger grammar, steps and exit conditions.
#include "daemon/automation/automation_file.hpp"

#include <yaml-cpp/yaml.h>

#include "daemon/util/yaml_place.hpp"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/util/clock.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::automation {

const char* to_string(TriggerKind kind) {
  switch (kind) {
    case TriggerKind::subscribed: return "subscribed";
    case TriggerKind::replied: return "replied";
    case TriggerKind::clicked: return "clicked";
    case TriggerKind::opened: return "opened";
    case TriggerKind::tag_added: return "tag_added";
    case TriggerKind::purchased: return "purchased";
    case TriggerKind::joined_segment: return "joined_segment";
    case TriggerKind::date: return "date";
  }
  return "?";
}

namespace {

using util::yaml_place;
using util::yaml_text_place;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128 || name.front() == '_') return false;
  for (char ch : name)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) return false;
  return true;
}

bool valid_attribute(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (char ch : name)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.')) return false;
  return true;
}

// "09:00" -> 540.
std::optional<int> parse_hh_mm(std::string_view text) {
  text = util::trim(text);
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 2 || text.size() - colon - 1 != 2) return std::nullopt;
  long long h = 0, m = 0;
  if (!util::parse_int(text.substr(0, colon), h) || !util::parse_int(text.substr(colon + 1), m)) return std::nullopt;
  if (h < 0 || h > 23 || m < 0 || m > 59) return std::nullopt;
  return static_cast<int>(h * 60 + m);
}

const char* kKnownKeys =
    "name, description, trigger, condition, from, reply_to, topic, tracking, reply_period, steps, exit_on";
const std::set<std::string> kKeys = {"name",  "description", "trigger",  "condition",    "from",   "reply_to",
                                     "topic", "tracking",    "steps",    "reply_period", "exit_on"};
const std::set<std::string> kStepKeys = {"after", "at", "subject", "template"};

}  // namespace

std::optional<Trigger> parse_trigger(const std::string& raw, std::string& error) {
  std::string text(util::trim(raw));
  std::string head = text, arg;
  bool has_arg = false;
  if (auto colon = text.find(':'); colon != std::string::npos) {
    head = std::string(util::trim(std::string_view(text).substr(0, colon)));
    arg = std::string(util::trim(std::string_view(text).substr(colon + 1)));
    has_arg = true;
  }
  Trigger t;
  auto no_arg = [&](TriggerKind kind) -> std::optional<Trigger> {
    if (has_arg) {
      error = "trigger " + head + " takes no argument";
      return std::nullopt;
    }
    t.kind = kind;
    return t;
  };
  auto needs_arg = [&](TriggerKind kind, const char* example) -> std::optional<Trigger> {
    if (arg.empty()) {
      error = "trigger " + head + " needs an argument, e.g. " + example;
      return std::nullopt;
    }
    t.kind = kind;
    t.arg = arg;
    return t;
  };
  std::string lower = util::to_lower(head);
  if (lower == "subscribed" || lower == "confirmed") return no_arg(TriggerKind::subscribed);
  if (lower == "replied") return no_arg(TriggerKind::replied);
  if (lower == "opened") return no_arg(TriggerKind::opened);
  if (lower == "purchased") return no_arg(TriggerKind::purchased);
  if (lower == "clicked") {
    t.kind = TriggerKind::clicked;
    t.arg = arg;  // empty: any link
    if (has_arg && arg.empty()) {
      error = "trigger clicked: give a link after the colon, or write just `clicked` for any link";
      return std::nullopt;
    }
    return t;
  }
  if (lower == "tag_added") return needs_arg(TriggerKind::tag_added, "tag_added:vip");
  if (lower == "joined_segment") return needs_arg(TriggerKind::joined_segment, "joined_segment:engaged-buyers");
  if (lower == "date") {
    if (arg.empty()) {
      error = "trigger date needs an attribute, e.g. date:birthday or date:renewal-7d";
      return std::nullopt;
    }
    t.kind = TriggerKind::date;
    t.arg = arg;
    // The offset is the last +/- followed by a duration; attribute names may hold '-' too.
    auto sign = arg.find_last_of("+-");
    if (sign != std::string::npos && sign > 0) {
      if (auto d = util::parse_duration_seconds(std::string_view(arg).substr(sign + 1))) {
        t.offset_seconds = arg[sign] == '-' ? -*d : *d;
        t.arg = std::string(util::trim(std::string_view(arg).substr(0, sign)));
      }
    }
    if (!valid_attribute(t.arg)) {
      error = "trigger date: '" + t.arg + "' is not an attribute name (letters, digits, '-', '_', '.')";
      return std::nullopt;
    }
    return t;
  }
  error = "unknown trigger '" + head +
          "' (known: subscribed, replied, clicked, opened, tag_added:TAG, purchased, joined_segment:RULE, "
          "date:ATTRIBUTE[+-OFFSET])";
  return std::nullopt;
}

std::expected<Automation, std::vector<PlacedError>> parse_automation_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(std::vector<PlacedError>{{{path, 0, 0}, "cannot read file"}});
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_automation_text(ss.str(), path);
}

std::expected<Automation, std::vector<PlacedError>> parse_automation_text(const std::string& text,
                                                                         const std::string& path) {
  std::vector<PlacedError> errors;
  auto error = [&](const YAML::Node& node, std::string message) {
    errors.push_back({yaml_place(node, path), std::move(message)});
  };
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return std::unexpected(std::vector<PlacedError>{{{path, e.mark.line + 1, e.mark.column + 1}, e.msg}});
  }
  if (!root.IsMap())
    return std::unexpected(
        std::vector<PlacedError>{{{path, 1, 1}, "an automation file must be a YAML mapping (key: value lines)"}});

  Automation a;
  a.file = path;
  a.name = std::filesystem::path(path).stem().string();
  a.fingerprint = util::sha256_hex(text);
  auto scalar = [&](const YAML::Node& node, const std::string& key) -> std::optional<std::string> {
    if (!node.IsScalar()) {
      error(node, key + " must be a single value");
      return std::nullopt;
    }
    return node.Scalar();
  };
  bool have_trigger = false, have_from = false, have_steps = false;
  for (const auto& kv : root) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
    const YAML::Node& v = kv.second;
    if (!kKeys.contains(key)) {
      error(kv.first, "unknown key '" + key + "' (known: " + kKnownKeys + ")");
      continue;
    }
    if (key == "steps") {
      have_steps = true;
      if (!v.IsSequence() || v.size() == 0) {
        error(v, "steps must be a list of at least one step (after, subject, template)");
        continue;
      }
      for (const auto& item : v) {
        if (!item.IsMap()) {
          error(item, "a step must be a mapping with after, subject and template");
          continue;
        }
        Step step;
        step.place = yaml_place(item, path);
        bool have_subject = false, have_template = false;
        for (const auto& skv : item) {
          std::string skey = skv.first.IsScalar() ? skv.first.Scalar() : "";
          if (!kStepKeys.contains(skey)) {
            error(skv.first, "unknown step key '" + skey + "' (known: after, at, subject, template)");
            continue;
          }
          auto value = scalar(skv.second, skey);
          if (!value) continue;
          if (skey == "after") {
            if (auto d = util::parse_duration_seconds(util::trim(*value))) step.after_seconds = *d;
            else error(skv.second, "after must be a duration such as 0s, 30m, 2h or 3d");
          } else if (skey == "at") {
            if (auto m = parse_hh_mm(*value)) step.at_minute_of_day = *m;
            else error(skv.second, "at must be a time of day HH:MM such as 09:00");
          } else if (skey == "subject") {
            have_subject = true;
            if (util::trim(*value).empty()) error(skv.second, "subject is empty");
            step.subject = *value;
          } else if (skey == "template") {
            have_template = true;
            step.template_name = std::string(util::trim(*value));
            step.template_place = yaml_place(skv.second, path);
            if (step.template_name.empty()) error(skv.second, "template is empty");
          }
        }
        if (!have_subject) errors.push_back({step.place, "step is missing required key 'subject'"});
        if (!have_template) errors.push_back({step.place, "step is missing required key 'template'"});
        a.steps.push_back(std::move(step));
      }
      continue;
    }
    if (key == "exit_on") {
      std::vector<YAML::Node> items;
      if (v.IsScalar()) items.push_back(v);
      else if (v.IsSequence())
        for (const auto& item : v) items.push_back(item);
      else {
        error(v, "exit_on must be a list such as [purchased, unsubscribed, replied]");
        continue;
      }
      for (const auto& item : items) {
        auto value = scalar(item, "exit_on");
        if (!value) continue;
        std::string reason = util::to_lower(util::trim(*value));
        if (reason == "purchase") reason = "purchased";
        if (!known_exit_reasons().contains(reason)) {
          error(item, "unknown exit condition '" + *value +
                          "' (known: purchased, unsubscribed, replied, clicked, opened, complained, bounced, "
                          "left_segment)");
          continue;
        }
        a.exit_on.insert(reason);
      }
      continue;
    }
    auto value = scalar(v, key);
    if (!value) continue;
    if (key == "name") {
      std::string name(util::trim(*value));
      if (!valid_name(name)) error(v, "name must be 1-128 letters, digits, '-', '_' or '.', not starting with '_'");
      else a.name = name;
    } else if (key == "trigger") {
      have_trigger = true;
      std::string message;
      if (auto t = parse_trigger(*value, message)) {
        a.trigger = *t;
        a.trigger.place = yaml_text_place(v, path, text);
      } else {
        error(v, message);
      }
    } else if (key == "condition") {
      std::string cond(util::trim(*value));
      if (cond.empty()) error(v, "condition is empty (leave it out to take every contact)");
      a.condition = cond;
      a.condition_place = yaml_text_place(v, path, text);
    } else if (key == "from") {
      have_from = true;
      if (auto box = util::parse_mailbox(*value)) a.from = *box;
      else error(v, "from: not a valid address: '" + *value + "'");
    } else if (key == "reply_to") {
      if (auto box = util::parse_mailbox(*value)) a.reply_to = *box;
      else error(v, "reply_to: not a valid address: '" + *value + "'");
    } else if (key == "topic") {
      std::string topic(util::trim(*value));
      if (topic.empty()) error(v, "topic is empty");
      else a.topic = topic;
    } else if (key == "tracking") {
      std::string b = util::to_lower(util::trim(*value));
      if (b == "true" || b == "on" || b == "yes") a.track = true;
      else if (b == "false" || b == "off" || b == "no") a.track = false;
      else error(v, "tracking must be true or false");
    } else if (key == "reply_period") {
      auto d = util::parse_duration_seconds(util::trim(*value));
      if (!d || *d <= 0) error(v, "reply_period must be a duration such as 7d or 12h");
      else a.reply_period_seconds = *d;
    }
  }
  if (!have_trigger) errors.push_back({{path, 1, 1}, "missing required key 'trigger'"});
  if (!have_from) errors.push_back({{path, 1, 1}, "missing required key 'from'"});
  if (!have_steps) errors.push_back({{path, 1, 1}, "missing required key 'steps'"});
  if (a.exit_on.contains("left_segment") && !a.condition && a.trigger.kind != TriggerKind::joined_segment)
    errors.push_back({{path, 1, 1},
                      "exit_on left_segment needs a condition or a joined_segment trigger to leave"});
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return a;
}

}  // namespace campaignd::automation
