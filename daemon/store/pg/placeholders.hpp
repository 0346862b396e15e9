// SQLite's parameter markers (`?1`, `?`) rewritten as PostgreSQL's (`$1`), so repository SQL can
// be written once with SQLite's markers and prepared on either backend.
#pragma once

#include <string>
#include <string_view>

#include "daemon/util/result.hpp"

namespace campaignd::store::pg {

struct TranslatedSql {
  std::string sql;     // with `$N` markers
  int parameters = 0;  // the highest parameter number used (what the caller must bind)
};

// Rewrites `?N` to `$N`, and a bare `?` to `$K` where K is one more than the highest number used
// so far (SQLite's numbering, so mixed text keeps its meaning). Text inside '…' and E'…' strings,
// "…" identifiers, $tag$…$tag$ bodies, -- and /* */ comments is copied unchanged; `$N` already
// present is kept. Errors (with the byte offset): `?0` or a number above 65535 (PostgreSQL's
// limit), SQLite's named parameters (`:name`, `@name`, `$name` outside a dollar quote), and an
// unterminated string, identifier, comment or dollar quote.
Result<TranslatedSql> translate_placeholders(std::string_view sqlite_sql);

}  // namespace campaignd::store::pg
