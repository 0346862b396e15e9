// Unsubscribes from a signed link: the page on GET (which changes nothing) and the RFC 8058
// one-click POST, which marks the contact unsubscribed, adds a suppression and records an
// `unsubscribed` event, all committed before the answer.
#pragma once

#include <optional>
#include <string>

#include "daemon/http/http_server.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/token.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

class UnsubscribeService final : public http::RecipientActions {
 public:
  UnsubscribeService(store::Store& store, const TokenSigner& signer, const util::Clock& clock)
      : store_(store), signer_(signer), clock_(clock) {}

  std::optional<std::string> unsubscribe_page(const std::string& token) override;
  bool unsubscribe(const std::string& token, const std::string& source) override;

 private:
  std::optional<std::int64_t> send_id_of(const std::string& token) const;

  store::Store& store_;
  const TokenSigner& signer_;
  const util::Clock& clock_;
};

}  // namespace campaignd::tracking
