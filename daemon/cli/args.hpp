// A small argv reader: positionals, `--flag`, `--key VALUE` and `--key=VALUE`.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <variant>
#include <string>
#include <vector>

namespace campaignd::cli {

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // "--config" -> "file"
  std::set<std::string> flags;                  // "--once"

  std::optional<std::string> option(const std::string& name) const {
    auto it = options.find(name);
    if (it == options.end()) return std::nullopt;
    return it->second;
  }
  bool flag(const std::string& name) const { return flags.contains(name); }
};

// `value_options` take a value; `flag_options` don't. Anything else starting with "--" is an error.
struct ArgsError {
  std::string message;
};
std::variant<Args, ArgsError> parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
                                         const std::set<std::string>& flag_options);

}  // namespace campaignd::cli
