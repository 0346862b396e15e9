#include "daemon/tracking/unsubscribe_service.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/campaigns.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/topics.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking {

namespace {

constexpr const char* kFallbackPage =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribe</title></head><body>"
    "<h1>Unsubscribe</h1><form method=\"post\">{{#topic}}<p><label><input type=\"radio\" name=\"scope\" "
    "value=\"topic\" checked> Only emails about {{topic}}</label><input type=\"hidden\" name=\"topic\" "
    "value=\"{{topic}}\"></p><p><label><input type=\"radio\" name=\"scope\" value=\"all\"> All emails</label></p>"
    "{{/topic}}{{^topic}}<input type=\"hidden\" name=\"scope\" value=\"all\">{{/topic}}"
    "<button type=\"submit\">Unsubscribe</button></form></body></html>";
constexpr const char* kFallbackDone =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Unsubscribed</title></head><body>"
    "<p>You are unsubscribed{{#topic}} from emails about {{topic}}{{/topic}}.</p></body></html>";

}  // namespace

Result<std::unique_ptr<UnsubscribeService>> UnsubscribeService::create(store::Store& store, EventRecorder& recorder,
                                                                       const TokenSigner& signer,
                                                                       const util::Clock& clock,
                                                                       const std::string& templates_dir) {
  auto page = render::PageTemplate::load(templates_dir, "unsubscribe-page", kFallbackPage);
  if (!page) return std::unexpected(page.error());
  auto done = render::PageTemplate::load(templates_dir, "unsubscribed-page", kFallbackDone);
  if (!done) return std::unexpected(done.error());
  return std::make_unique<UnsubscribeService>(store, recorder, signer, clock, std::move(*page), std::move(*done));
}

std::optional<std::int64_t> UnsubscribeService::send_id_of(const std::string& token) const {
  auto payload = signer_.verify(TokenPurpose::unsubscribe, token);
  long long id;
  if (!payload || !util::parse_int(*payload, id) || id <= 0) return std::nullopt;
  return id;
}

Result<std::optional<std::string>> UnsubscribeService::topic_of_send(std::int64_t send_id) {
  auto reader = store_.readers().borrow();
  if (!reader) return std::unexpected(reader.error());
  auto send = store::SendRepository(**reader).find(send_id);
  if (!send) return std::unexpected(send.error());
  if (!*send) return fail("unknown send");
  return store::CampaignRepository(**reader).topic_of((*send)->campaign_id);
}

http::HttpResponse UnsubscribeService::page(const http::HttpRequest& request) {
  auto send_id = request.captures.empty() ? std::nullopt : send_id_of(request.captures[0]);
  if (!send_id) return http::HttpResponse::text(404, "Not found\n");
  auto topic = topic_of_send(*send_id);
  if (!topic) {
    if (topic.error() == "unknown send") return http::HttpResponse::text(404, "Not found\n");
    return http::HttpResponse::error(503, "database unavailable");
  }
  // The token is in the path and the form posts back to it. No address is shown: links get forwarded.
  nlohmann::json ctx = nlohmann::json::object();
  if (*topic) ctx["topic"] = **topic;
  return http::HttpResponse::html(200, page_.render(ctx));
}

http::HttpResponse UnsubscribeService::post(const http::HttpRequest& request) {
  std::string token = request.captures.empty() ? std::string() : request.captures[0];
  bool one_click = request.form_value("List-Unsubscribe") == "One-Click" ||
                   request.body.find("List-Unsubscribe=One-Click") != std::string::npos;
  std::optional<std::string> topic;
  if (!one_click && request.form_value("scope") == "topic") {
    // Only the campaign's own topic can be left from its link.
    auto send_id = send_id_of(token);
    if (!send_id) return http::HttpResponse::text(404, "Not found\n");
    auto campaign_topic = topic_of_send(*send_id);
    if (!campaign_topic) {
      if (campaign_topic.error() == "unknown send") return http::HttpResponse::text(404, "Not found\n");
      return http::HttpResponse::error(503, "database unavailable");
    }
    if (!*campaign_topic || **campaign_topic != request.form_value("topic"))
      return http::HttpResponse::error(400, "this link can only leave the topic of its campaign");
    topic = *campaign_topic;
  }
  switch (unsubscribe(token, one_click ? "one-click" : "page", topic)) {
    case UnsubscribeOutcome::unknown_token:
      return http::HttpResponse::text(404, "Not found\n");
    case UnsubscribeOutcome::store_error:
      return http::HttpResponse::error(503, "could not record the unsubscribe; please try again");
    case UnsubscribeOutcome::done:
      break;
  }
  // RFC 8058: answer the POST itself, no redirect.
  nlohmann::json ctx = nlohmann::json::object();
  if (topic) ctx["topic"] = *topic;
  return http::HttpResponse::html(200, done_.render(ctx));
}

UnsubscribeOutcome UnsubscribeService::unsubscribe(const std::string& token, const std::string& source,
                                                   const std::optional<std::string>& topic) {
  auto send_id = send_id_of(token);
  if (!send_id) return UnsubscribeOutcome::unknown_token;
  if (topic) {
    bool found = false;
    auto s = store_.writer().run([&](const store::Database& db) -> Status {
      auto send = store::SendRepository(db).find(*send_id);
      if (!send) return std::unexpected(send.error());
      if (!*send || !(*send)->contact_id) return {};
      found = true;
      if (auto r = store::TopicRepository(db).set(*(*send)->contact_id, *topic, false, clock_.now()); !r) return r;
      // A topic opt-out is an event, but it does not suppress the address.
      store::Event ev;
      ev.kind = "unsubscribed";
      ev.contact_id = (*send)->contact_id;
      ev.campaign_id = (*send)->campaign_id;
      ev.send_id = *send_id;
      ev.at = clock_.now();
      ev.provider_event_id = "unsubscribe-topic:" + std::to_string(*send_id) + ":" + *topic;
      ev.data = {{"source", source}, {"topic", *topic}};
      return store::EventRepository(db).insert(ev);
    });
    if (!s) {
      spdlog::error("topic unsubscribe for send {} failed: {}", *send_id, s.error());
      return UnsubscribeOutcome::store_error;
    }
    if (!found) return UnsubscribeOutcome::unknown_token;
    spdlog::info("send {}: contact left topic {} ({})", *send_id, *topic, source);
    return UnsubscribeOutcome::done;
  }
  ResponseEvent e;
  e.kind = "unsubscribed";
  e.send_id = *send_id;
  e.at = clock_.now();
  // One unsubscribe event per send, however often the link is used.
  e.provider_event_id = "unsubscribe:" + std::to_string(*send_id);
  e.data = {{"source", source}};
  auto outcome = recorder_.record(e);
  if (!outcome) {
    spdlog::error("unsubscribe for send {} failed: {}", *send_id, outcome.error());
    return UnsubscribeOutcome::store_error;
  }
  if (!outcome->duplicate && !outcome->matched) return UnsubscribeOutcome::unknown_token;
  spdlog::info("send {}: contact unsubscribed ({})", *send_id, source);
  return UnsubscribeOutcome::done;
}

}  // namespace campaignd::tracking
