#include "daemon/store/pg/pg_send_leases.hpp"

namespace campaignd::store::pg {

Result<std::vector<ClaimedSend>> claim_due_leased(PgConnection& conn, std::string_view owner, util::UnixTime now,
                                                  util::UnixTime lease_until, int limit) {
  // The inner SELECT locks the rows it picks and passes over rows another claimer holds locked;
  // a row that another claimer already committed as 'sending' is re-checked against the WHERE
  // clause on its newest version (READ COMMITTED) and dropped, so no row is claimed twice.
  auto stmt = conn.cached(
      "UPDATE sends SET state = 'sending', lease_owner = ?1, lease_until = ?2, updated_at = ?3 "
      "WHERE id IN (SELECT id FROM sends WHERE state = 'queued' AND next_attempt_at <= ?3 "
      "             ORDER BY next_attempt_at, id LIMIT ?4 FOR UPDATE SKIP LOCKED) "
      "RETURNING id, campaign_id, contact_id, attempts, context, next_attempt_at, variant");
  if (!stmt) return std::unexpected(stmt.error());
  auto res = (*stmt)->bind(1, owner).bind(2, lease_until).bind(3, now).bind(4, limit).execute();
  if (!res) return std::unexpected(res.error());
  std::vector<std::pair<util::UnixTime, ClaimedSend>> rows;
  rows.reserve(static_cast<size_t>(res->rows()));
  for (int r = 0; r < res->rows(); ++r)
    rows.emplace_back(res->int64(r, 5),
                      ClaimedSend{res->int64(r, 0), res->int64(r, 1), res->int64(r, 2), static_cast<int>(res->int64(r, 3)),
                                  res->optional_text(r, 4), res->optional_text(r, 6)});
  return in_due_order(std::move(rows));
}

Result<std::int64_t> renew_leases(PgConnection& conn, std::string_view owner, util::UnixTime lease_until) {
  auto stmt = conn.cached("UPDATE sends SET lease_until = ?2 WHERE state = 'sending' AND lease_owner = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  auto res = (*stmt)->bind(1, owner).bind(2, lease_until).execute();
  if (!res) return std::unexpected(res.error());
  return res->affected();
}

Result<std::int64_t> release_expired_leases(PgConnection& conn, util::UnixTime now) {
  // SKIP LOCKED here too: a row whose owner is marking it sent right now is left to that owner.
  auto stmt = conn.cached(
      "UPDATE sends SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ?1 "
      "WHERE id IN (SELECT id FROM sends WHERE state = 'sending' AND lease_until < ?1 FOR UPDATE SKIP LOCKED)");
  if (!stmt) return std::unexpected(stmt.error());
  auto res = (*stmt)->bind(1, now).execute();
  if (!res) return std::unexpected(res.error());
  return res->affected();
}

Result<std::int64_t> release_owner(PgConnection& conn, std::string_view owner, util::UnixTime now) {
  auto stmt = conn.cached(
      "UPDATE sends SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ?2 "
      "WHERE state = 'sending' AND lease_owner = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  auto res = (*stmt)->bind(1, owner).bind(2, now).execute();
  if (!res) return std::unexpected(res.error());
  return res->affected();
}

}  // namespace campaignd::store::pg
