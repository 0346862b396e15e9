// The adapter's field mapping applied to a payload (language in adapter.hpp).
#include "daemon/tracking/webhooks/event_mapper.hpp"

#include <cmath>

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking::webhooks {

namespace {

using nlohmann::json;

constexpr std::size_t kMaxTextField = 2000;  // reasons and user agents are diagnostics, not documents

struct Context {
  const json& document;
  const http::HttpRequest& request;
};

// Every value the first source that reaches anything reaches (null and "" are nothing);
// `used` tells which source it was.
std::vector<json> values_of(const FieldSpec& spec, const json& event, const Context& ctx,
                            const FieldSource** used = nullptr) {
  for (const auto& source : spec) {
    std::vector<json> out;
    if (source.path) {
      for (const json* v : source.path->evaluate(event, ctx.document))
        if (!v->is_null() && !(v->is_string() && v->get_ref<const std::string&>().empty())) out.push_back(*v);
    } else if (std::string h = ctx.request.header(source.header); !h.empty()) {
      out.push_back(json(h));
    }
    if (!out.empty()) {
      if (used) *used = &source;
      return out;
    }
  }
  return {};
}

// A value from a header or from `@` is the post's, not the event's.
bool belongs_to_event(const FieldSource* source) {
  return source && source->path && source->path->origin() == JsonPath::Origin::event;
}

// The value paired with recipient `index` of `count`, else the first.
const json* pick(const std::vector<json>& values, std::size_t index, std::size_t count) {
  if (values.empty()) return nullptr;
  if (count > 1 && values.size() == count) return &values[index];
  return &values.front();
}

std::optional<std::string> text_of(const json* v) {
  if (!v) return std::nullopt;
  std::string s = scalar_text(*v);
  if (s.empty()) return std::nullopt;
  if (s.size() > kMaxTextField) s.resize(kMaxTextField);
  return s;
}

bool truthy(const json* v) {
  if (!v) return false;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_number()) return v->get<double>() != 0;
  if (v->is_string()) {
    std::string s = util::to_lower(v->get<std::string>());
    return s == "true" || s == "yes" || s == "1";
  }
  return false;
}

bool condition_holds(const KindRule::Condition& c, const json& event, const Context& ctx) {
  for (const json* v : c.path.evaluate(event, ctx.document)) {
    std::string text = scalar_text(*v);
    for (const auto& want : c.values)
      if (util::iequals(text, want)) return true;
  }
  return false;
}

const KindRule* choose_rule(const Adapter& a, const std::string& provider_kind, const json& event,
                            const Context& ctx) {
  auto it = a.kinds.find(util::to_lower(provider_kind));
  if (it == a.kinds.end()) return nullptr;
  for (const auto& rule : it->second) {
    bool all = true;
    for (const auto& c : rule.when) all = all && condition_holds(c, event, ctx);
    if (all) return rule.kind == "ignore" ? nullptr : &rule;
  }
  return nullptr;
}

}  // namespace

std::optional<util::UnixTime> parse_event_time(const json& value, TimeFormat format) {
  double number = 0;
  bool numeric = false;
  if (value.is_number()) {
    number = value.get<double>();
    numeric = true;
  } else if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    numeric = !s.empty() && util::parse_double(s, number) && s.find_first_not_of("0123456789.") == std::string::npos;
    if (!numeric) {
      if (format == TimeFormat::unix_seconds || format == TimeFormat::unix_ms) return std::nullopt;
      return util::parse_iso8601(s);
    }
  } else {
    return std::nullopt;
  }
  if (!numeric || format == TimeFormat::iso8601 || !std::isfinite(number) || number < 0) return std::nullopt;
  // Seconds since 1970 pass 1e11 only in the year 5138: anything larger is milliseconds.
  bool ms = format == TimeFormat::unix_ms || (format == TimeFormat::auto_detect && number >= 1e11);
  if (ms) number /= 1000.0;
  if (number > 253402300799.0) return std::nullopt;  // after 9999-12-31
  return static_cast<util::UnixTime>(std::floor(number));
}

Result<MappedPost> map_post(const Adapter& a, const json& body, const http::HttpRequest& request) {
  Context ctx{body, request};
  const json* root = a.root.first(body, body);
  if (!root) return fail("no events at " + a.root.text());
  json decoded;
  if (a.decode_root) {
    if (!root->is_string()) return fail(a.root.text() + " must be a string holding JSON");
    try {
      decoded = json::parse(root->get_ref<const std::string&>());
    } catch (const json::parse_error& e) {
      return fail(a.root.text() + " is not JSON: byte " + std::to_string(e.byte));
    }
    root = &decoded;
  }
  std::vector<const json*> items;
  if (root->is_array()) {
    for (const auto& item : *root) items.push_back(&item);
  } else if (root->is_object()) {
    items.push_back(root);
  } else {
    return fail("events at " + a.root.text() + " must be an object or an array of objects");
  }

  MappedPost out;
  for (std::size_t n = 0; n < items.size(); ++n) {
    const json& event = *items[n];
    std::string where = root->is_array() ? "event " + std::to_string(n) : std::string("the event");
    if (!event.is_object()) return fail(where + " is not an object");
    auto kind_values = values_of(a.kind, event, ctx);
    std::string provider_kind = kind_values.empty() ? std::string() : scalar_text(kind_values.front());
    const KindRule* rule = provider_kind.empty() ? nullptr : choose_rule(a, provider_kind, event, ctx);
    if (!rule) {
      ++out.ignored;
      continue;
    }

    std::vector<std::optional<std::string>> recipients;
    for (const auto& v : values_of(a.recipient, event, ctx))
      if (v.is_string() && !v.get_ref<const std::string&>().empty()) recipients.push_back(v.get<std::string>());
    if (recipients.empty()) recipients.push_back(std::nullopt);

    auto message_ids = values_of(a.message_id, event, ctx);
    auto times = values_of(a.time, event, ctx);
    auto reasons = values_of(a.reason, event, ctx);
    const FieldSource* id_source = nullptr;
    auto ids = values_of(a.event_id, event, ctx, &id_source);
    auto urls = values_of(a.url, event, ctx);
    auto agents = values_of(a.user_agent, event, ctx);
    auto machines = values_of(a.machine, event, ctx);
    std::string base_id;
    if (auto id = text_of(pick(ids, 0, 1))) {
      base_id = a.provider + ":" + *id;
      // One id for the whole post (webhook-id, the SNS MessageId): each event needs its own.
      if (items.size() > 1 && !belongs_to_event(id_source)) base_id += ":" + std::to_string(n);
    } else {
      base_id = a.provider + ":sha256:" + util::sha256_hex(event.dump());
    }

    std::size_t count = recipients.size();
    for (std::size_t i = 0; i < count; ++i) {
      ResponseEvent e;
      e.kind = rule->kind;
      if (e.kind == "bounced") e.bounce_type = rule->bounce_type.value_or("hard");
      e.recipient = recipients[i];
      // One message to several recipients is not one of our sends (we send one recipient per
      // message): its Message-ID would tie every recipient to the same send, so use the address.
      if (count == 1) e.message_id = text_of(pick(message_ids, i, count));
      if (const json* t = pick(times, i, count)) {
        auto at = parse_event_time(*t, a.time_format);
        if (!at) return fail(where + ": time " + t->dump() + " does not parse");
        e.at = *at;
      }
      e.reason = text_of(pick(reasons, i, count));
      e.machine = truthy(pick(machines, i, count));
      e.provider_event_id = count > 1 && e.recipient ? base_id + ":" + *e.recipient : base_id;
      e.data = json::object();
      e.data["provider"] = a.provider;
      e.data["provider_kind"] = provider_kind;
      if (auto url = text_of(pick(urls, i, count))) e.data["url"] = *url;
      if (auto agent = text_of(pick(agents, i, count))) e.data["user_agent"] = *agent;
      out.events.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace campaignd::tracking::webhooks
