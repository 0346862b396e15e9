// The webhook_nonces table: signature nonces (Mailgun tokens) seen inside the replay window, so
// a captured post replayed while its timestamp is still fresh is refused.
#pragma once

#include <string_view>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

// Statements are prepared once per connection (Database::cached). One thread at a time; writes
// belong on the WriteQueue's connection, inside the job that records the post's events, so a
// nonce is remembered exactly when its events are.
class WebhookNonceRepository {
 public:
  explicit WebhookNonceRepository(const Database& db) : db_(db) {}

  // True when the nonce is new (and now remembered), false when it was seen before.
  Result<bool> remember(std::string_view provider, std::string_view nonce, util::UnixTime now);
  // Forgets nonces seen before `cutoff`: their timestamps are too old to pass anyway.
  Status forget_before(std::string_view provider, util::UnixTime cutoff);

 private:
  const Database& db_;
};

}  // namespace campaignd::store
