// The schema as numbered migrations, applied in order; PRAGMA user_version records the last one.
#pragma once

#include "daemon/store/database.hpp"

namespace campaignd::store {

// Applies every migration newer than the database's user_version, each in its own transaction.
Status migrate(const Database& db);
// Up to `target` only (tests: a database as an older campaignd left it); a database already
// past it is left alone.
Status migrate_to(const Database& db, int target);
int latest_schema_version();

}  // namespace campaignd::store
