// The send queue shared by several nodes: sends are claimed in batches under a lease (owner,
// expiry). Rows another node is claiming at the same moment are skipped, not waited for
// (FOR UPDATE SKIP LOCKED), so no send is handed to two nodes; a node that dies stops renewing
// its leases and, once they run out, release_expired_leases() queues its sends again.
//
// Times are Unix seconds from the caller's Clock; nodes' clocks must agree to well within a
// lease's length (NTP), which is why leases are minutes long, not seconds.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "daemon/store/pg/pg_connection.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store::pg {

// Marks up to `limit` due queued sends as sending under `owner`'s lease until `lease_until`,
// and returns them in due order (next_attempt_at, id). Safe to call from any number of
// connections at once: each row goes to exactly one caller.
Result<std::vector<ClaimedSend>> claim_due_leased(PgConnection& conn, std::string_view owner, util::UnixTime now,
                                                  util::UnixTime lease_until, int limit);
// Extends every lease `owner` holds (the node's heartbeat); returns how many it still holds.
// A send whose lease was already taken over is not `owner`'s any more and stays with its new owner.
Result<std::int64_t> renew_leases(PgConnection& conn, std::string_view owner, util::UnixTime lease_until);
// Sends whose lease ran out before `now` go back to the queue, still due (next_attempt_at and
// attempts unchanged). They may have gone out once: at-least-once, as after a single node's
// crash. Returns how many.
Result<std::int64_t> release_expired_leases(PgConnection& conn, util::UnixTime now);
// A node shutting down, once its in-flight sends finished, hands back the claimed sends it never
// started (still due); returns how many.
Result<std::int64_t> release_owner(PgConnection& conn, std::string_view owner, util::UnixTime now);

}  // namespace campaignd::store::pg
