// All SQL for the suppressions table.
#include "daemon/store/suppressions.hpp"

#include "daemon/util/crypto.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::store {

std::string suppression_key(std::string_view email) { return util::sha256_hex(util::normalize_address(email)); }

Status SuppressionRepository::add(std::string_view email, std::string_view reason, util::UnixTime now) {
  std::string normalised = util::normalize_address(email);
  if (normalised.empty()) return fail("cannot suppress an empty address");
  if (reason.empty()) return fail("a suppression needs a reason");
  auto stmt = db_.cached(
      "INSERT INTO suppressions (email_hash, email, reason, created_at) VALUES (?, ?, ?, ?) "
      "ON CONFLICT(email_hash) DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, util::sha256_hex(normalised)).bind(2, normalised).bind(3, reason).bind(4, now);
  return (*stmt)->run();
}

Status SuppressionRepository::remove(std::string_view email) {
  auto stmt = db_.cached("DELETE FROM suppressions WHERE email_hash = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, suppression_key(email));
  return (*stmt)->run();
}

Result<bool> SuppressionRepository::is_suppressed(std::string_view email) {
  auto stmt = db_.cached("SELECT 1 FROM suppressions WHERE email_hash = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, suppression_key(email));
  auto row = (*stmt)->step();
  (*stmt)->reset();
  if (!row) return std::unexpected(row.error());
  return *row;
}

Status SuppressionRepository::forget(std::string_view email) {
  auto stmt = db_.cached("UPDATE suppressions SET email = NULL WHERE email_hash = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, suppression_key(email));
  return (*stmt)->run();
}

Result<std::vector<Suppression>> SuppressionRepository::list() {
  auto stmt = db_.cached("SELECT email_hash, email, reason, created_at FROM suppressions ORDER BY created_at, email_hash");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<Suppression> out;
  while (true) {
    auto row = (*stmt)->step();
    if (!row) {
      (*stmt)->reset();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    out.push_back({(*stmt)->column_text(0), (*stmt)->column_optional_text(1), (*stmt)->column_text(2),
                   (*stmt)->column_int(3)});
  }
  (*stmt)->reset();
  return out;
}

Result<std::unordered_set<std::string>> SuppressionRepository::all_keys() {
  auto stmt = db_.cached("SELECT email_hash FROM suppressions");
  if (!stmt) return std::unexpected(stmt.error());
  std::unordered_set<std::string> out;
  while (true) {
    auto row = (*stmt)->step();
    if (!row) {
      (*stmt)->reset();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    out.insert((*stmt)->column_text(0));
  }
  (*stmt)->reset();
  return out;
}

}  // namespace campaignd::store
