#include "daemon/tracking/unsubscribe_service.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/sends.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking {

std::optional<std::int64_t> UnsubscribeService::send_id_of(const std::string& token) const {
  auto payload = signer_.verify(TokenPurpose::unsubscribe, token);
  long long id;
  if (!payload || !util::parse_int(*payload, id) || id <= 0) return std::nullopt;
  return id;
}

http::HttpResponse UnsubscribeService::page(const http::HttpRequest& request) {
  auto send_id = request.captures.empty() ? std::nullopt : send_id_of(request.captures[0]);
  if (!send_id) return http::HttpResponse::text(404, "Not found\n");
  auto reader = store_.open_reader();
  if (!reader) return http::HttpResponse::error(503, "database unavailable");
  auto send = store::SendRepository(*reader).find(*send_id);
  if (!send) return http::HttpResponse::error(503, "database unavailable");
  if (!*send) return http::HttpResponse::text(404, "Not found\n");
  // The token is in the path; the form posts back to it. No address is shown: links get forwarded.
  return http::HttpResponse::html(200, "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
         "content=\"width=device-width\"><title>Unsubscribe</title></head><body style=\"font-family:sans-serif;"
         "max-width:32em;margin:3em auto\"><h1>Unsubscribe</h1><p>Do you want to stop receiving these emails?</p>"
         "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
         "<button type=\"submit\">Unsubscribe</button></form></body></html>\n");
}

http::HttpResponse UnsubscribeService::post(const http::HttpRequest& request) {
  bool one_click = request.body.find("List-Unsubscribe=One-Click") != std::string::npos;
  std::string token = request.captures.empty() ? std::string() : request.captures[0];
  switch (unsubscribe(token, one_click ? "one-click" : "page")) {
    case UnsubscribeOutcome::unknown_token:
      return http::HttpResponse::text(404, "Not found\n");
    case UnsubscribeOutcome::store_error:
      return http::HttpResponse::error(503, "could not record the unsubscribe; please try again");
    case UnsubscribeOutcome::done:
      break;
  }
  // RFC 8058: answer the POST itself, no redirect.
  return http::HttpResponse::html(200, "<!doctype html><meta charset=utf-8><title>Unsubscribed</title>"
                                       "<p>You are unsubscribed and will receive no more of these emails.</p>\n");
}

UnsubscribeOutcome UnsubscribeService::unsubscribe(const std::string& token, const std::string& source) {
  auto send_id = send_id_of(token);
  if (!send_id) return UnsubscribeOutcome::unknown_token;
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
