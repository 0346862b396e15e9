// Per-send reply addresses by plus-addressing: replies to `support+r-<token>@acme.example` are
// tied to their send even when the replier's client drops In-Reply-To and References.
// The token is a TokenSigner token of purpose `open` over the payload "reply:<send_id>" (the
// "reply:" prefix keeps it from being taken as an open-pixel token, whose payload is a bare
// number). Base64url and "." are valid in a dot-atom local part, but the token is
// case-sensitive and adds about 45 characters: RFC 5321 allows 64 octets of local part, so use
// a short local part, and match on headers that keep case (To, Cc) before envelope ones.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/tracking/token.hpp"

namespace campaignd::tracking::inbound {

// "support@acme.example" -> "support+r-<token>@acme.example"; "Acme <support@acme.example>"
// -> "Acme <support+r-<token>@acme.example>". Empty when the input holds no address.
std::string reply_address(std::string_view reply_to_address, std::int64_t send_id, const TokenSigner& signer);

// The send id carried by such an address (bare or in a mailbox), when its token verifies.
std::optional<std::int64_t> send_id_from_reply_address(std::string_view address, const TokenSigner& signer);

}  // namespace campaignd::tracking::inbound
