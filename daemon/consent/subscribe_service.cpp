#include "daemon/consent/subscribe_service.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/store/topics.hpp"
#include "daemon/util/email_address.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::consent {

namespace {

constexpr const char* kFallbackConfirmed =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Subscription confirmed</title></head>"
    "<body><p>Thank you{{#first_name}}, {{first_name}}{{/first_name}}: your subscription is confirmed.</p></body></html>";
constexpr size_t kMaxFields = 50;
constexpr size_t kMaxFieldBytes = 1000;

struct SignUp {
  std::string email;
  store::Contact contact;
  std::vector<std::string> topics;
};

bool valid_field_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-')) return false;
  return true;
}

std::vector<std::string> split_topics(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& t : util::split(text, ',')) {
    std::string topic(util::trim(t));
    if (!topic.empty()) out.push_back(topic);
  }
  return out;
}

// The request's fields, from JSON or a form, into a sign-up; an error names the bad field.
Result<SignUp> parse_sign_up(const http::HttpRequest& request) {
  nlohmann::json fields = nlohmann::json::object();
  std::string type = util::to_lower(request.header("content-type"));
  if (type.starts_with("application/json")) {
    fields = nlohmann::json::parse(request.body, nullptr, false);
    if (fields.is_discarded() || !fields.is_object()) return fail("the body is not a JSON object");
  } else {
    for (const auto& [k, v] : request.form) {
      if (k == "topics" && fields.contains("topics")) fields["topics"] = fields["topics"].get<std::string>() + "," + v;
      else fields[k] = v;
    }
  }
  if (fields.size() > kMaxFields) return fail("too many fields");
  SignUp s;
  s.contact.status = "pending";
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    const std::string& key = it.key();
    const auto& v = *it;
    if (key == "topics") {
      if (v.is_array()) {
        for (const auto& t : v)
          if (t.is_string() && !util::trim(t.get<std::string>()).empty())
            s.topics.emplace_back(util::trim(t.get<std::string>()));
      } else if (v.is_string()) {
        s.topics = split_topics(v.get<std::string>());
      } else {
        return fail("field 'topics' must be a list or a comma-separated string");
      }
      continue;
    }
    if (!valid_field_name(key)) return fail("field name '" + key.substr(0, 64) + "' is not allowed");
    if (!(v.is_string() || v.is_number() || v.is_boolean()))
      return fail("field '" + key + "' must be a string, number or boolean");
    if (v.is_string() && v.get<std::string>().size() > kMaxFieldBytes) return fail("field '" + key + "' is too long");
    std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    if (key == "email") s.email = util::normalize_address(text);
    else if (key == "first_name") s.contact.first_name = util::strip_controls(text);
    else if (key == "last_name") s.contact.last_name = util::strip_controls(text);
    else if (key == "status" || key == "tags" || key == "id") return fail("field '" + key + "' cannot be set here");
    else s.contact.attrs[key] = v.is_string() ? nlohmann::json(util::strip_controls(text)) : v;
  }
  if (s.email.empty()) return fail("field 'email' is required");
  if (!util::is_valid_address(s.email)) return fail("field 'email' is not a valid address");
  s.contact.email = s.email;
  return s;
}

}  // namespace

Result<std::unique_ptr<SubscribeService>> SubscribeService::create(
    store::Store& store, const tracking::TokenSigner& signer, const util::Clock& clock, SubscribeSettings settings,
    std::function<std::optional<std::int64_t>()> confirmation_campaign, const std::string& templates_dir) {
  auto page = render::PageTemplate::load(templates_dir, "subscription-confirmed-page", kFallbackConfirmed);
  if (!page) return std::unexpected(page.error());
  return std::make_unique<SubscribeService>(store, signer, clock, settings, std::move(confirmation_campaign),
                                            std::move(*page));
}

std::string SubscribeService::confirm_token(const tracking::TokenSigner& signer, std::int64_t contact_id,
                                            util::UnixTime now) {
  return signer.sign(tracking::TokenPurpose::confirm, std::to_string(contact_id) + ":" + std::to_string(now));
}

http::HttpResponse SubscribeService::subscribe(const http::HttpRequest& request) {
  auto campaign_id = confirmation_campaign_();
  if (!campaign_id)
    return http::HttpResponse::error(503, "sign-ups are not configured (set subscribe.from in the config)");
  if (!limiter_.allow(request.remote_addr)) {
    auto r = http::HttpResponse::error(429, "too many sign-ups from this address; try again later");
    r.headers.emplace_back("Retry-After", std::to_string(limiter_.retry_after(request.remote_addr)));
    return r;
  }
  auto sign_up = parse_sign_up(request);
  if (!sign_up) return http::HttpResponse::error(400, sign_up.error());

  util::UnixTime now = clock_.now();
  std::string outcome;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    store::ContactRepository contacts(db);
    if (auto suppressed = store::SuppressionRepository(db).is_suppressed(sign_up->email); !suppressed) {
      return std::unexpected(suppressed.error());
    } else if (*suppressed) {
      // Suppressed addresses stay suppressed; an admin can lift it (`campaignd suppress remove`).
      outcome = "suppressed";
      return {};
    }
    auto existing = contacts.find_by_email(sign_up->email);
    if (!existing) return std::unexpected(existing.error());
    if (*existing && (*existing)->status != "pending") {
      outcome = (*existing)->status;  // subscribed already, or opted out: no mail
      return {};
    }
    store::Contact c = sign_up->contact;
    c.created_at = c.updated_at = now;
    auto id = contacts.upsert_returning_id(c, store::UpsertMode::merge);
    if (!id) return std::unexpected(id.error());
    store::TopicRepository topics(db);
    for (const auto& t : sign_up->topics)
      if (auto r = topics.set(*id, t, true, now); !r) return r;
    outcome = "pending";
    return store::SendRepository(db).enqueue_one(*campaign_id, *id, now);
  });
  if (!s) {
    spdlog::error("subscribe: {}", s.error());
    return http::HttpResponse::error(503, "could not record the sign-up; please try again");
  }
  spdlog::info("subscribe: {} from {}", outcome, request.remote_addr);
  // The same answer whatever happened: the endpoint must not reveal who is on the list.
  return http::HttpResponse::json(202, {{"status", "pending"}, {"message", "check your inbox to confirm"}});
}

http::HttpResponse SubscribeService::confirm(const http::HttpRequest& request) {
  auto payload = request.captures.empty() ? std::nullopt
                                          : signer_.verify(tracking::TokenPurpose::confirm, request.captures[0]);
  if (!payload) return http::HttpResponse::text(404, "Not found\n");
  auto parts = util::split(*payload, ':');
  long long contact_id = 0, issued = 0;
  if (parts.size() != 2 || !util::parse_int(parts[0], contact_id) || !util::parse_int(parts[1], issued))
    return http::HttpResponse::text(404, "Not found\n");
  util::UnixTime now = clock_.now();
  if (now - issued > settings_.confirm_ttl_seconds)
    return http::HttpResponse::html(410, "<!doctype html><meta charset=utf-8><title>Link expired</title>"
                                         "<p>This confirmation link has expired. Please sign up again.</p>\n");
  std::optional<store::Contact> confirmed;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    store::ContactRepository contacts(db);
    auto c = contacts.find_by_id(contact_id);
    if (!c) return std::unexpected(c.error());
    if (!*c) return {};
    if ((*c)->status == "pending") {
      if (auto r = contacts.set_status(contact_id, "subscribed", now); !r) return r;
      store::Event e;
      e.kind = "subscribed";
      e.contact_id = contact_id;
      e.at = now;
      e.provider_event_id = "confirm:" + std::to_string(contact_id);
      e.data = {{"source", "double-opt-in"}};
      if (auto r = store::EventRepository(db).insert(e); !r) return r;
      (*c)->status = "subscribed";
    }
    if ((*c)->status == "subscribed") confirmed = **c;
    return {};
  });
  if (!s) {
    spdlog::error("confirm contact {}: {}", contact_id, s.error());
    return http::HttpResponse::error(503, "could not confirm; please try again");
  }
  if (!confirmed) return http::HttpResponse::text(404, "Not found\n");
  spdlog::info("contact {}: subscription confirmed", contact_id);
  return http::HttpResponse::html(200, confirmed_page_.render({{"first_name", confirmed->first_name}}));
}

}  // namespace campaignd::consent
