#include "daemon/tracking/unsubscribe_service.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking {

std::optional<std::int64_t> UnsubscribeService::send_id_of(const std::string& token) const {
  auto payload = signer_.verify(TokenPurpose::unsubscribe, token);
  long long id;
  if (!payload || !util::parse_int(*payload, id) || id <= 0) return std::nullopt;
  return id;
}

std::optional<std::string> UnsubscribeService::unsubscribe_page(const std::string& token) {
  auto send_id = send_id_of(token);
  if (!send_id) return std::nullopt;
  auto reader = store_.open_reader();
  if (!reader) return std::nullopt;
  auto send = store::SendRepository(*reader).find(*send_id);
  if (!send || !*send) return std::nullopt;
  // The token is in the path; the form posts back to it. No address is shown: links get forwarded.
  return "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
         "content=\"width=device-width\"><title>Unsubscribe</title></head><body style=\"font-family:sans-serif;"
         "max-width:32em;margin:3em auto\"><h1>Unsubscribe</h1><p>Do you want to stop receiving these emails?</p>"
         "<form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">"
         "<button type=\"submit\">Unsubscribe</button></form></body></html>\n";
}

bool UnsubscribeService::unsubscribe(const std::string& token, const std::string& source) {
  auto send_id = send_id_of(token);
  if (!send_id) return false;
  util::UnixTime now = clock_.now();
  bool found = false;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    auto send = store::SendRepository(db).find(*send_id);
    if (!send) return std::unexpected(send.error());
    if (!*send) return {};
    found = true;
    if (!(*send)->contact_id) return {};  // forgotten: already suppressed by hash
    store::ContactRepository contacts(db);
    auto contact = contacts.find_by_id(*(*send)->contact_id);
    if (!contact) return std::unexpected(contact.error());
    if (!*contact) return {};
    if (auto r = contacts.set_status((*contact)->id, "unsubscribed"); !r) return r;
    if (auto r = store::SuppressionRepository(db).add((*contact)->email, "unsubscribed", now); !r) return r;
    store::Event e;
    e.kind = "unsubscribed";
    e.contact_id = (*contact)->id;
    e.campaign_id = (*send)->campaign_id;
    e.send_id = (*send)->id;
    e.at = now;
    e.provider_event_id = "unsubscribe:" + std::to_string(*send_id);
    e.data = {{"source", source}};
    return store::EventRepository(db).insert(e);
  });
  if (!s) {
    spdlog::error("unsubscribe for send {} failed: {}", *send_id, s.error());
    return false;
  }
  if (found) spdlog::info("send {}: contact unsubscribed ({})", *send_id, source);
  return found;
}

}  // namespace campaignd::tracking
