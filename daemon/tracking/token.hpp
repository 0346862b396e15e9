// Signed tokens for the links we put in mail (unsubscribe, open, click, confirm).
// A token is base64url(payload) "." base64url(HMAC-SHA256(key, purpose ":" payload))[0..16 bytes];
// verification is constant-time and a forged or altered token is simply "not valid".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace campaignd::tracking {

enum class TokenPurpose { unsubscribe, open, click, confirm };

class TokenSigner {
 public:
  explicit TokenSigner(std::string key) : key_(std::move(key)) {}
  std::string sign(TokenPurpose purpose, std::string_view payload) const;
  // The payload, when the token is intact and was made for this purpose with this key.
  std::optional<std::string> verify(TokenPurpose purpose, std::string_view token) const;

 private:
  std::string key_;
};

}  // namespace campaignd::tracking
