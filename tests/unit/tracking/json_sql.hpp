// SQL for tests that look inside a JSON column (events.data, contacts.attrs), in the text of
// the engine the tests run on: SQLite's json_extract/json_type, PostgreSQL's jsonb operators.
#pragma once

#include <string>

#include "tests/unit/store/temp_database.hpp"

namespace campaignd::testing {

// The top-level `key` of `column` as text; NULL when absent. `key` is letters, digits and _.
inline std::string json_field(const std::string& column, const std::string& key) {
  if (testing_on_postgresql()) return column + "->>'" + key + "'";
  return "json_extract(" + column + ", '$." + key + "')";
}

// The JSON type of the top-level `key` of `column` (names differ by engine); NULL when absent.
inline std::string json_type_of(const std::string& column, const std::string& key) {
  if (testing_on_postgresql()) return "jsonb_typeof(" + column + "->'" + key + "')";
  return "json_type(" + column + ", '$." + key + "')";
}

}  // namespace campaignd::testing
