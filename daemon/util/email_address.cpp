#include "daemon/util/email_address.hpp"

#include <cctype>

#include "daemon/util/strings.hpp"

namespace campaignd::util {

namespace {

bool atext(char c) {
  auto u = static_cast<unsigned char>(c);
  if (std::isalnum(u)) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '/':
    case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

bool valid_domain(std::string_view d) {
  if (d.empty() || d.size() > 253 || d.find('.') == std::string_view::npos) return false;
  for (const auto& label : split(d, '.')) {
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
    for (char c : label)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

}  // namespace

bool is_valid_address(std::string_view a) {
  if (a.size() > 254) return false;
  auto at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at > 64) return false;
  std::string_view local = a.substr(0, at);
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  for (char c : local)
    if (!atext(c) && c != '.') return false;
  return valid_domain(a.substr(at + 1));
}

std::string normalize_address(std::string_view address) { return to_lower(trim(address)); }

std::optional<Mailbox> parse_mailbox(std::string_view text) {
  std::string_view s = trim(text);
  Mailbox box;
  auto lt = s.rfind('<');
  if (lt != std::string_view::npos) {
    if (s.back() != '>') return std::nullopt;
    box.address = std::string(trim(s.substr(lt + 1, s.size() - lt - 2)));
    std::string_view name = trim(s.substr(0, lt));
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') {
      std::string unquoted;
      for (size_t i = 1; i + 1 < name.size(); ++i) {
        if (name[i] == '\\' && i + 2 < name.size()) ++i;
        unquoted.push_back(name[i]);
      }
      box.display_name = unquoted;
    } else {
      box.display_name = std::string(name);
    }
  } else {
    box.address = std::string(s);
  }
  for (char c : box.display_name)
    if (static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  if (!is_valid_address(box.address)) return std::nullopt;
  return box;
}

std::string domain_of(std::string_view address) {
  auto at = address.rfind('@');
  return at == std::string_view::npos ? std::string() : to_lower(address.substr(at + 1));
}

}  // namespace campaignd::util
