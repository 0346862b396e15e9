// Unsubscribes from a signed link: the page on GET (which changes nothing: scanners fetch
// links) and the RFC 8058 one-click POST, which marks the contact unsubscribed, adds a
// suppression and records an `unsubscribed` event, all committed before the answer.
#pragma once

#include <optional>
#include <string>

#include "daemon/http/http_types.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/token.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

enum class UnsubscribeOutcome { done, unknown_token, store_error };

class UnsubscribeService {
 public:
  UnsubscribeService(store::Store& store, EventRecorder& recorder, const TokenSigner& signer,
                     const util::Clock& clock)
      : store_(store), recorder_(recorder), signer_(signer), clock_(clock) {}

  // GET /u/{token}
  http::HttpResponse page(const http::HttpRequest& request);
  // POST /u/{token}: one-click (body `List-Unsubscribe=One-Click`) or the page's form.
  http::HttpResponse post(const http::HttpRequest& request);

  UnsubscribeOutcome unsubscribe(const std::string& token, const std::string& source);

 private:
  std::optional<std::int64_t> send_id_of(const std::string& token) const;

  store::Store& store_;
  EventRecorder& recorder_;
  const TokenSigner& signer_;
  const util::Clock& clock_;
};

}  // namespace campaignd::tracking
