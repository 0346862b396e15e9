#include "daemon/delivery/destination.hpp"

#include <array>
#include <utility>

#include "daemon/util/strings.hpp"

namespace campaignd::delivery {

namespace {

// (domain, provider key). Exact domains; hotmail/live/outlook/yahoo country domains match by
// prefix below.
constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kProviders = {{
    {"gmail.com", "gmail.com"},     {"googlemail.com", "gmail.com"}, {"outlook.com", "outlook.com"},
    {"hotmail.com", "outlook.com"}, {"live.com", "outlook.com"},     {"msn.com", "outlook.com"},
    {"yahoo.com", "yahoo.com"},     {"ymail.com", "yahoo.com"},      {"rocketmail.com", "yahoo.com"},
    {"aol.com", "yahoo.com"},       {"icloud.com", "icloud.com"},    {"me.com", "icloud.com"},
    {"mac.com", "icloud.com"},      {"gmx.net", "gmx.net"},          {"gmx.de", "gmx.net"},
    {"web.de", "gmx.net"},
}};

// Country variants: hotmail.co.uk, live.fr, outlook.de, yahoo.co.jp ...
constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kProviderPrefixes = {{
    {"hotmail.", "outlook.com"}, {"live.", "outlook.com"}, {"outlook.", "outlook.com"}, {"yahoo.", "yahoo.com"},
}};

}  // namespace

std::string destination_of(std::string_view address) {
  auto at = address.rfind('@');
  if (at == std::string_view::npos || at + 1 >= address.size()) return "";
  std::string domain = util::to_lower(address.substr(at + 1));
  while (!domain.empty() && domain.back() == '.') domain.pop_back();
  for (const auto& [name, key] : kProviders)
    if (domain == name) return std::string(key);
  for (const auto& [prefix, key] : kProviderPrefixes)
    if (domain.starts_with(prefix)) {
      // Only a country suffix may follow: "co.uk", "fr", "com.br" — not "hotmail.evil.example".
      auto rest = std::string_view(domain).substr(prefix.size());
      if (rest.size() <= 6) return std::string(key);
    }
  return domain;
}

}  // namespace campaignd::delivery
