// Email addresses and mailboxes ("Display Name <local@domain>") as the edges accept them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace campaignd::util {

struct Mailbox {
  std::string display_name;  // may be empty; UTF-8
  std::string address;       // local@domain, validated
};

// A practical subset of RFC 5321's addr-spec: dot-atom local part (no quoted strings),
// a domain of LDH labels with a dot, at most 254 octets. Rejects anything with spaces or controls.
bool is_valid_address(std::string_view address);
// Lower-cases the domain and the local part (what every mainstream mailbox provider does), trims.
std::string normalize_address(std::string_view address);
// Parses "addr", "<addr>", "Name <addr>" or "\"Name, Inc\" <addr>"; nullopt when the address is invalid.
std::optional<Mailbox> parse_mailbox(std::string_view text);
std::string domain_of(std::string_view address);

}  // namespace campaignd::util
