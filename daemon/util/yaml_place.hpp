// Where a yaml-cpp node is in its file, for errors that say file:line:col.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "daemon/util/source_place.hpp"

namespace campaignd::util {

inline SourcePlace yaml_place(const YAML::Node& node, const std::string& file) {
  auto m = node.Mark();
  if (m.is_null()) return {file, 1, 1};
  return {file, m.line + 1, m.column + 1};
}

// Where the text of a scalar starts: a quoted scalar's mark is at its opening quote.
inline SourcePlace yaml_text_place(const YAML::Node& node, const std::string& file, const std::string& source) {
  SourcePlace p = yaml_place(node, file);
  auto m = node.Mark();
  if (!m.is_null() && m.pos >= 0 && static_cast<size_t>(m.pos) < source.size() &&
      (source[static_cast<size_t>(m.pos)] == '"' || source[static_cast<size_t>(m.pos)] == '\''))
    p.col += 1;
  return p;
}

}  // namespace campaignd::util
