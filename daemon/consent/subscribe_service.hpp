// Double opt-in. POST /api/subscribe (JSON or a form: email, other fields, topics) makes a
// pending contact and queues the confirmation mail (the built-in confirmation campaign, sent
// by the ordinary workers: durable, retried); GET /c/{token} confirms it. Pending contacts are
// in no segment. The endpoint is rate-limited per client address, and it answers the same way
// whether or not the address was known, so it tells nobody who is on the list.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "daemon/consent/client_rate_limiter.hpp"
#include "daemon/http/http_types.hpp"
#include "daemon/render/page_template.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/token.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::consent {

struct SubscribeSettings {
  util::Rate rate{10, 60};
  std::int64_t confirm_ttl_seconds = 7 * 86400;
};

class SubscribeService {
 public:
  // `confirmation_campaign` gives the id of the built-in confirmation campaign, or nullopt when
  // double opt-in is not configured (then POST /api/subscribe answers 503).
  static Result<std::unique_ptr<SubscribeService>> create(store::Store& store, const tracking::TokenSigner& signer,
                                                          const util::Clock& clock, SubscribeSettings settings,
                                                          std::function<std::optional<std::int64_t>()> confirmation_campaign,
                                                          const std::string& templates_dir);

  http::HttpResponse subscribe(const http::HttpRequest& request);
  http::HttpResponse confirm(const http::HttpRequest& request);
  // Several nodes: this node's part of the per-client rate (see ClientRateLimiter::set_share).
  void set_rate_share(double share) { limiter_.set_share(share); }

  // The link in the confirmation mail for a contact, signed and dated.
  static std::string confirm_token(const tracking::TokenSigner& signer, std::int64_t contact_id, util::UnixTime now);

  SubscribeService(store::Store& store, const tracking::TokenSigner& signer, const util::Clock& clock,
                   SubscribeSettings settings, std::function<std::optional<std::int64_t>()> confirmation_campaign,
                   render::PageTemplate confirmed_page)
      : store_(store), signer_(signer), clock_(clock), settings_(settings), limiter_(settings.rate, clock),
        confirmation_campaign_(std::move(confirmation_campaign)), confirmed_page_(std::move(confirmed_page)) {}

 private:
  store::Store& store_;
  const tracking::TokenSigner& signer_;
  const util::Clock& clock_;
  SubscribeSettings settings_;
  ClientRateLimiter limiter_;
  std::function<std::optional<std::int64_t>()> confirmation_campaign_;
  render::PageTemplate confirmed_page_;
};

}  // namespace campaignd::consent
