#include "daemon/tracking/events_api.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/tracking/conversions.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::tracking {

namespace {

constexpr size_t kMaxEvents = 10'000;

struct ApiEvent {
  std::string email;
  store::Event event;
};

bool valid_type(const std::string& t) {
  if (t.empty() || t.size() > 64) return false;
  for (char c : t)
    if (!((c >= 'a' && c <= 'z') || c == '_')) return false;
  return true;
}

Result<ApiEvent> parse_event(const nlohmann::json& j, size_t index, util::UnixTime now) {
  auto where = [&](const std::string& what) { return "event " + std::to_string(index) + ": " + what; };
  if (!j.is_object()) return fail(where("must be an object"));
  ApiEvent out;
  if (!j.contains("email") || !j["email"].is_string()) return fail(where("'email' is required"));
  out.email = util::normalize_address(j["email"].get<std::string>());
  if (!util::is_valid_address(out.email)) return fail(where("'email' is not a valid address"));
  if (!j.contains("type") || !j["type"].is_string()) return fail(where("'type' is required"));
  out.event.kind = j["type"].get<std::string>();
  if (!valid_type(out.event.kind)) return fail(where("'type' must be lower-case letters and _"));
  if (j.contains("amount") && !j["amount"].is_null()) {
    if (!j["amount"].is_number()) return fail(where("'amount' must be a number"));
    out.event.amount = j["amount"].get<double>();
  }
  out.event.at = now;
  if (j.contains("at") && !j["at"].is_null()) {
    auto at = j["at"].is_string() ? util::parse_iso8601(j["at"].get<std::string>()) : std::nullopt;
    if (!at) return fail(where("'at' must be an ISO-8601 time"));
    out.event.at = *at;
  }
  if (j.contains("id") && !j["id"].is_null()) {
    if (!(j["id"].is_string() || j["id"].is_number_integer())) return fail(where("'id' must be a string"));
    std::string id = j["id"].is_string() ? j["id"].get<std::string>() : j["id"].dump();
    if (id.empty() || id.size() > 200) return fail(where("'id' must be 1-200 characters"));
    out.event.provider_event_id = "api:" + id;
  } else {
    out.event.provider_event_id = "api:" + util::sha256_hex(j.dump());
  }
  out.event.data = {{"source", "api"}};
  if (j.contains("data") && j["data"].is_object()) out.event.data["data"] = j["data"];
  return out;
}

}  // namespace

http::HttpResponse EventsApi::post(const http::HttpRequest& request) {
  nlohmann::json body = nlohmann::json::parse(request.body, nullptr, false);
  if (body.is_discarded()) return http::HttpResponse::error(400, "the body is not JSON");
  if (body.is_object()) body = nlohmann::json::array({body});
  if (!body.is_array() || body.empty()) return http::HttpResponse::error(400, "expected an event or a list of events");
  if (body.size() > kMaxEvents) return http::HttpResponse::error(413, "at most 10000 events per post");
  util::UnixTime now = clock_.now();
  std::vector<ApiEvent> events;
  for (size_t i = 0; i < body.size(); ++i) {
    auto e = parse_event(body[i], i, now);
    if (!e) return http::HttpResponse::error(400, e.error());
    events.push_back(std::move(*e));
  }
  int accepted = 0, duplicates = 0, converted = 0;
  std::string unknown;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    accepted = duplicates = converted = 0;
    store::ContactRepository contacts(db);
    store::EventRepository repo(db);
    for (size_t i = 0; i < events.size(); ++i) {
      auto& e = events[i];
      auto id = contacts.id_for_email(e.email);
      if (!id) return std::unexpected(id.error());
      if (!*id) {
        unknown = "event " + std::to_string(i) + ": no contact " + e.email;
        return fail(unknown);  // rolls the whole post back
      }
      e.event.contact_id = **id;
      auto added = repo.insert_if_new(e.event);
      if (!added) return std::unexpected(added.error());
      if (!*added) {
        ++duplicates;
        continue;
      }
      ++accepted;
      if (e.event.kind == "purchase") {
        auto credited = attribute_purchase(db, **id, e.event.at, e.event.amount, *e.event.provider_event_id, window_);
        if (!credited) return std::unexpected(credited.error());
        if (*credited) ++converted;
      }
    }
    return {};
  });
  if (!unknown.empty()) return http::HttpResponse::error(400, unknown);
  if (!s) {
    spdlog::error("events api: {}", s.error());
    return http::HttpResponse::error(503, "events could not be stored, retry later");
  }
  return http::HttpResponse::json(200, {{"accepted", accepted}, {"duplicates", duplicates}, {"converted", converted}});
}

}  // namespace campaignd::tracking
