// Typed access to yaml-cpp nodes that throws ConfigError with the node's file:line:col.
// Shared by the config loader; campaign files use their own non-throwing parser.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/source_place.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::config {

inline SourcePlace place_of(const YAML::Node& node, const std::string& file) {
  auto m = node.Mark();
  if (m.is_null()) return {file, 0, 0};
  return {file, m.line + 1, m.column + 1};
}

inline void expect_map(const YAML::Node& node, const std::string& file, const std::string& what) {
  if (!node.IsMap()) throw ConfigError(PlacedError{place_of(node, file), what + " must be a mapping"});
}

inline std::string scalar(const YAML::Node& node, const std::string& file, const std::string& key) {
  if (!node.IsScalar()) throw ConfigError(PlacedError{place_of(node, file), key + " must be a single value"});
  return node.Scalar();
}

inline int integer(const YAML::Node& node, const std::string& file, const std::string& key, int lo, int hi) {
  long long n;
  if (!node.IsScalar() || !util::parse_int(node.Scalar(), n) || n < lo || n > hi)
    throw ConfigError(PlacedError{place_of(node, file),
                                  key + " must be a whole number from " + std::to_string(lo) + " to " + std::to_string(hi)});
  return static_cast<int>(n);
}

inline std::int64_t duration(const YAML::Node& node, const std::string& file, const std::string& key) {
  auto d = node.IsScalar() ? util::parse_duration_seconds(node.Scalar()) : std::nullopt;
  if (!d) throw ConfigError(PlacedError{place_of(node, file), key + " must be a duration such as 30s, 5m, 2h"});
  return *d;
}

inline std::vector<std::string> string_list(const YAML::Node& node, const std::string& file, const std::string& key) {
  std::vector<std::string> out;
  if (node.IsScalar()) return {node.Scalar()};
  if (!node.IsSequence()) throw ConfigError(PlacedError{place_of(node, file), key + " must be a list"});
  for (const auto& item : node) out.push_back(scalar(item, file, key));
  return out;
}

}  // namespace campaignd::config
