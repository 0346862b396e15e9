// The names a segment expression can use beyond contact attributes: built-in fields and
// functions, each with the SQL it stands for over `contacts c`. A new field or function is a
// new entry in catalog.cpp; the parser and compiler need not change.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/segments/sql_fragment.hpp"
#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::segments {

struct CompileContext {
  util::UnixTime now = 0;  // "within 30d" and "days since" count back from here
  store::Dialect dialect = store::Dialect::sqlite;  // the engine the SQL is for
};

enum class ValueType {
  text,       // compared as text
  number,     // compared only with numbers
  time,       // Unix seconds; an ISO-8601 string is converted
  any,        // a contact attribute: whatever its JSON value is
  condition,  // true or false on its own; not comparable
};

struct FieldDef {
  std::string_view name;
  ValueType type;
  std::function<SqlFragment(const CompileContext&)> sql;
};

enum class ArgType {
  text,      // a string
  duration,  // a string such as "30d", checked by util::parse_duration_seconds
};

// An argument after checking: `text` as written, `seconds` for durations.
struct Arg {
  std::string text;
  std::int64_t seconds = 0;
};

struct FunctionDef {
  std::string_view name;
  std::vector<ArgType> params;
  ValueType result;
  std::function<SqlFragment(const CompileContext&, const std::vector<Arg>&)> sql;
};

// Case-insensitive; nullptr when the name is not built in (a field name is then an attribute).
const FieldDef* find_field(std::string_view name);
const FunctionDef* find_function(std::string_view name);

// How a condition reads an attribute. On SQLite every view is json_extract's value (an integer or
// real for a JSON number, 1/0 for true/false, text for a string, JSON text for an array or
// object); the compiler tells numbers from text with typeof(). PostgreSQL's jsonb needs the
// reading chosen up front, with the same results as SQLite's:
enum class AttrView {
  json,    // the value itself (PostgreSQL: jsonb)
  number,  // a JSON number as a number, true/false as 1/0; NULL for anything else
  text,    // a JSON string as text; NULL for anything else
  shown,   // the value written as text, for `contains`
};

// Attribute `name` of c.attrs in `view`, NULL when absent. The name is always bound, never pasted
// into the SQL.
SqlFragment attribute_value(std::string_view name, store::Dialect dialect = store::Dialect::sqlite,
                            AttrView view = AttrView::json);

}  // namespace campaignd::segments
