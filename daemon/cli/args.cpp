#include "daemon/cli/args.hpp"

#include <variant>

namespace campaignd::cli {

std::variant<Args, ArgsError> parse_args(const std::vector<std::string>& argv, const std::set<std::string>& value_options,
                                         const std::set<std::string>& flag_options) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      args.positional.insert(args.positional.end(), argv.begin() + static_cast<long>(i) + 1, argv.end());
      break;
    }
    if (!a.starts_with("--")) {
      args.positional.push_back(a);
      continue;
    }
    auto eq = a.find('=');
    std::string name = a.substr(0, eq);
    if (value_options.contains(name)) {
      if (eq != std::string::npos) {
        args.options[name] = a.substr(eq + 1);
      } else if (i + 1 < argv.size()) {
        args.options[name] = argv[++i];
      } else {
        return ArgsError{name + " needs a value"};
      }
    } else if (flag_options.contains(name) && eq == std::string::npos) {
      args.flags.insert(name);
    } else {
      return ArgsError{"unknown option " + name};
    }
  }
  return args;
}

}  // namespace campaignd::cli
