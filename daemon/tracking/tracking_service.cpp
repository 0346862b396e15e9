// Open pixel and click redirect handlers; see the header for the contract.
#include "daemon/tracking/tracking_service.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/sends.hpp"

namespace campaignd::tracking {

namespace {

constexpr size_t kMaxStoredUserAgent = 512;  // enough to tell agents apart; bounds what a client makes us store

http::HttpResponse not_found() { return http::HttpResponse::text(404, "Not found\n"); }

std::string token_of(const http::HttpRequest& request) {
  return request.captures.empty() ? std::string() : request.captures[0];
}

}  // namespace

const std::string& TrackingService::transparent_gif() {
  // GIF89a, 1x1, a two-colour table, colour 0 transparent, one pixel of colour 0.
  static const std::string gif = [] {
    const unsigned char bytes[] = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80,
                                   0x00, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0x21, 0xF9, 0x04,
                                   0x01, 0x00, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x01,
                                   0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3B};
    return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
  }();
  return gif;
}

bool TrackingService::record(std::int64_t send_id, HitKind kind, const http::HttpRequest& request,
                             const std::string& url) {
  std::string user_agent = request.header("user-agent").substr(0, kMaxStoredUserAgent);
  bool known_send = true;
  Verdict verdict;
  // One write job: the send is read on the writer's connection, so the event and the row it
  // refers to are consistent, and no reader connection is opened per hit.
  auto status = store_.writer().run([&](const store::Database& db) -> Status {
    auto send = store::SendRepository(db).find(send_id);
    if (!send) return std::unexpected(send.error());
    if (!*send) {
      known_send = false;
      return {};
    }
    Hit hit;
    hit.kind = kind;
    hit.send_id = send_id;
    hit.method = request.method;
    hit.user_agent = user_agent;
    hit.url = url;
    hit.sent_at = (*send)->sent_at;
    // A gateway can fetch before our SMTP session has even been marked sent: no sent_at yet.
    if (!hit.sent_at && ((*send)->state == "sending" || (*send)->state == "queued")) hit.sent_at = clock_.now();
    verdict = detector_.classify(hit);

    ResponseEvent e;
    e.kind = kind == HitKind::open ? "opened" : "clicked";
    e.send_id = send_id;
    e.at = clock_.now();
    e.machine = verdict.machine;
    e.data = nlohmann::json::object();
    if (kind == HitKind::click) e.data["url"] = url;
    e.data["user_agent"] = user_agent;
    if (verdict.machine) e.data["machine_reason"] = verdict.reason;
    auto recorded = recorder_.record_in(db, e, &**send);
    if (!recorded) return std::unexpected(recorded.error());
    return {};
  }, store::Batching::gather);
  if (!status) {
    spdlog::error("send {}: could not record the {}: {}", send_id, kind == HitKind::open ? "open" : "click",
                  status.error());
    return false;
  }
  if (!known_send) spdlog::debug("{} token for unknown send {}: answered, not recorded",
                                 kind == HitKind::open ? "open" : "click", send_id);
  return true;
}

http::HttpResponse TrackingService::open(const http::HttpRequest& request) {
  auto send_id = links_.open_send(token_of(request));
  if (!send_id) return not_found();
  record(*send_id, HitKind::open, request, {});
  return {200, "image/gif", transparent_gif(), {{"Cache-Control", "no-store, max-age=0"}}};
}

http::HttpResponse TrackingService::click(const http::HttpRequest& request) {
  auto target = links_.click_target(token_of(request));
  if (!target) return not_found();
  record(target->first, HitKind::click, request, target->second);
  // Whatever happened to the record, the recipient reaches the page.
  return {302, "text/plain; charset=utf-8", "", {{"Location", target->second}, {"Cache-Control", "no-store"}}};
}

}  // namespace campaignd::tracking
