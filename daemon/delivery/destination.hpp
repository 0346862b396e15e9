// Which destination a recipient's mail goes to, for per-domain limits. Mailbox providers that
// answer for many domains from one set of MX hosts are one destination (gmail.com and
// googlemail.com share Google's MX, so their limits must be shared too); every other domain is
// its own. The table names the big providers whose MX grouping is public knowledge; a
// `domains:` entry in the config may name any domain or provider key.
#pragma once

#include <string>
#include <string_view>

namespace campaignd::delivery {

// The lower-cased domain of `address`, or its provider's key (e.g. "gmail.com" for
// "x@googlemail.com", "outlook.com" for "x@hotmail.co.uk"). "" for an address without a domain.
std::string destination_of(std::string_view address);

}  // namespace campaignd::delivery
