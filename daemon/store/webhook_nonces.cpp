// All SQL for the webhook_nonces table.
#include "daemon/store/webhook_nonces.hpp"

namespace campaignd::store {

Result<bool> WebhookNonceRepository::remember(std::string_view provider, std::string_view nonce, util::UnixTime now) {
  auto stmt = db_.cached(
      "INSERT INTO webhook_nonces (provider, nonce, seen_at) VALUES (?, ?, ?) "
      "ON CONFLICT(provider, nonce) DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, provider).bind(2, nonce).bind(3, now);
  if (auto s = (*stmt)->run(); !s) return std::unexpected(s.error());
  return db_.changes() == 1;
}

Status WebhookNonceRepository::forget_before(std::string_view provider, util::UnixTime cutoff) {
  auto stmt = db_.cached("DELETE FROM webhook_nonces WHERE provider = ? AND seen_at < ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, provider).bind(2, cutoff);
  return (*stmt)->run();
}

}  // namespace campaignd::store
