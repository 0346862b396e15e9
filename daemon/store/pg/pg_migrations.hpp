// The schema for PostgreSQL: the same numbered migrations as daemon/store/migrations.cpp, each
// written in PostgreSQL's dialect, and the table that records which ones a database has.
//
// Version N here must leave the same tables, columns, keys and analytics behaviour as SQLite's
// version N (types are each engine's own: bigint for INTEGER, jsonb for JSON that SQL looks
// into). Several nodes may start at once: migrations are serialised by an advisory lock.
#pragma once

#include "daemon/store/pg/pg_connection.hpp"

namespace campaignd::store::pg {

// The advisory-lock keys campaignd uses (pg_advisory_lock(kLockClass, key)): one class, so they
// never collide with another application's locks in a shared database.
inline constexpr int kLockClass = 0x63616d70;  // "camp"
inline constexpr int kMigrateLock = 1;
inline constexpr int kLeaderLock = 2;  // the node that loads campaign files and runs the scheduler

// Applies every migration newer than the database's, each in its own transaction that also
// records it in campaignd_schema. Fails, changing nothing, if the database is newer than this
// build. Tables go to the first schema on the connection's search_path.
Status pg_migrate(PgConnection& conn);
// The same, stopping at `version` (tests of a migration's backfill; migrate-store).
Status pg_migrate_to(PgConnection& conn, int version);
// The version recorded (0 for a database campaignd never touched).
Result<int> pg_schema_version(PgConnection& conn);
int pg_latest_schema_version();

}  // namespace campaignd::store::pg
