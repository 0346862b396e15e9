// Turns a segment expression into a parameterised SQL condition over `contacts c`.
//
// Meaning of the language (also the contract for campaign and rule authors):
// - A name is a built-in field (see catalog.cpp) or else a contact attribute from c.attrs.
//   Built-in names are case-insensitive and win over an attribute of the same name; attribute
//   names are case-sensitive. attr("any name") reaches an attribute whose name is not a plain
//   identifier.
// - Numbers compare with numbers, text with text; a number never equals or orders against a
//   text (SQLite alone would put every number before every text). Text `=` is exact
//   (case-sensitive); `contains` is a case-insensitive (ASCII) substring test.
// - A comparison, `in` or `contains` on a missing attribute (or a NULL field such as
//   recency_days with no purchase) is false. `!=` is exactly `not (=)` and `not in` is exactly
//   `not (in)`, so both are true for a missing attribute, as is `not` of any false condition.
// - A name on its own is a condition: the status words (subscribed, unsubscribed, pending,
//   bounced, complained) test c.status; anything else is true when the value is present and not
//   0, '' or false (JSON false, or the text 'false'). `x = true` means the same; `x = false` its
//   opposite.
// - created_at / updated_at compare with Unix seconds or an ISO-8601 string.
// Every literal and every attribute name is a bound parameter; no input text reaches the SQL.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/segments/ast.hpp"
#include "daemon/segments/segment_error.hpp"
#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::segments {

struct CompiledSegment {
  std::string where_sql;               // a condition over contacts aliased `c`; never NULL
  std::vector<store::SqlValue> params;  // bound to where_sql's `?`s in order
};

// `now` anchors relative conditions (opened_within, recency_days, engagement_score). `dialect` is
// the engine the SQL will run on (the Database's dialect()); the meaning above is the same on both.
std::expected<CompiledSegment, SegmentError> compile_segment(std::string_view expression, util::UnixTime now,
                                                            store::Dialect dialect = store::Dialect::sqlite);
std::expected<CompiledSegment, SegmentError> compile_segment(const ast::Node& expression, util::UnixTime now,
                                                            store::Dialect dialect = store::Dialect::sqlite);

}  // namespace campaignd::segments
