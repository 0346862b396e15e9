// Parsing and evaluating adapter paths (grammar in json_path.hpp).
#include "daemon/tracking/webhooks/json_path.hpp"

#include "daemon/util/strings.hpp"

namespace campaignd::tracking::webhooks {

namespace {

using nlohmann::json;

std::unexpected<Error> at_column(std::size_t pos, const std::string& message) {
  return fail("column " + std::to_string(pos + 1) + ": " + message);
}

bool is_name_char(char c) { return c != '.' && c != '[' && c != ']' && c != ' ' && c != '\t'; }

}  // namespace

std::string scalar_text(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean() || value.is_number()) return value.dump();
  return {};
}

Result<JsonPath> JsonPath::parse(std::string_view text) {
  JsonPath path;
  path.text_ = std::string(text);
  if (text.empty()) return fail("column 1: a path starts with '$' or '@'");
  if (text[0] == '$') {
    path.origin_ = Origin::event;
  } else if (text[0] == '@') {
    path.origin_ = Origin::document;
  } else {
    return fail("column 1: a path starts with '$' or '@'");
  }
  std::size_t pos = 1;
  while (pos < text.size()) {
    Step step;
    if (text[pos] == '.') {
      std::size_t start = ++pos;
      while (pos < text.size() && is_name_char(text[pos])) ++pos;
      if (pos == start) {
        return at_column(start, "expected a member name after '.'");
      }
      step.name = std::string(text.substr(start, pos - start));
    } else if (text[pos] == '[') {
      std::size_t close = text.find(']', pos);
      if (text.compare(pos, 2, "['") == 0) {
        std::size_t end = text.find("']", pos + 2);
        if (end == std::string_view::npos) return at_column(pos, "expected \"']\" to close a quoted name");
        step.name = std::string(text.substr(pos + 2, end - pos - 2));
        pos = end + 2;
      } else if (close == std::string_view::npos) {
        return at_column(pos, "expected ']'");
      } else {
        std::string_view inside = text.substr(pos + 1, close - pos - 1);
        if (inside == "*") {
          step.kind = Step::Kind::all;
        } else if (!inside.empty() && inside[0] == '?') {
          auto eq = inside.find('=');
          if (eq == std::string_view::npos || eq == 1 || eq + 1 == inside.size())
            return at_column(pos + 1, "a filter reads [?name=value]");
          step.kind = Step::Kind::filter;
          step.name = std::string(util::trim(inside.substr(1, eq - 1)));
          step.value = std::string(util::trim(inside.substr(eq + 1)));
        } else {
          long long n = 0;
          if (!util::parse_int(inside, n) || n < 0)
            return at_column(pos + 1, "expected an index, '*', '?name=value' or a quoted name");
          step.kind = Step::Kind::index;
          step.index = static_cast<std::size_t>(n);
        }
        pos = close + 1;
      }
    } else {
      return at_column(pos, std::string("unexpected '") + text[pos] + "'");
    }
    path.steps_.push_back(std::move(step));
  }
  return path;
}

bool JsonPath::fans_out() const {
  for (const auto& s : steps_)
    if (s.kind == Step::Kind::all || s.kind == Step::Kind::filter) return true;
  return false;
}

std::vector<const json*> JsonPath::evaluate(const json& event, const json& document) const {
  std::vector<const json*> current{origin_ == Origin::event ? &event : &document};
  std::vector<const json*> next;
  for (const auto& step : steps_) {
    next.clear();
    for (const json* v : current) {
      switch (step.kind) {
        case Step::Kind::member:
          if (v->is_object())
            if (auto it = v->find(step.name); it != v->end()) next.push_back(&*it);
          break;
        case Step::Kind::index:
          if (v->is_array() && step.index < v->size()) next.push_back(&(*v)[step.index]);
          break;
        case Step::Kind::all:
          if (v->is_array() || v->is_object())
            for (const auto& item : *v) next.push_back(&item);
          break;
        case Step::Kind::filter:
          if (v->is_array())
            for (const auto& item : *v)
              if (item.is_object())
                if (auto it = item.find(step.name); it != item.end() && util::iequals(scalar_text(*it), step.value))
                  next.push_back(&item);
          break;
      }
    }
    current.swap(next);
    if (current.empty()) break;
  }
  return current;
}

const json* JsonPath::first(const json& event, const json& document) const {
  auto all = evaluate(event, document);
  return all.empty() ? nullptr : all.front();
}

}  // namespace campaignd::tracking::webhooks
