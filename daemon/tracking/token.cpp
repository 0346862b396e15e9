#include "daemon/tracking/token.hpp"

#include "daemon/util/crypto.hpp"

namespace campaignd::tracking {

namespace {

constexpr size_t kMacBytes = 16;  // 128 bits: ample against forgery, keeps URLs short

std::string_view purpose_name(TokenPurpose p) {
  switch (p) {
    case TokenPurpose::unsubscribe: return "u";
    case TokenPurpose::open: return "o";
    case TokenPurpose::click: return "c";
    case TokenPurpose::confirm: return "k";
  }
  return "?";
}

std::string mac(const std::string& key, TokenPurpose purpose, std::string_view payload) {
  std::string data(purpose_name(purpose));
  data += ':';
  data += payload;
  return util::hmac_sha256(key, data).substr(0, kMacBytes);
}

}  // namespace

std::string TokenSigner::sign(TokenPurpose purpose, std::string_view payload) const {
  return util::base64url_encode(payload) + "." + util::base64url_encode(mac(key_, purpose, payload));
}

std::optional<std::string> TokenSigner::verify(TokenPurpose purpose, std::string_view token) const {
  if (token.size() > 4096) return std::nullopt;
  auto dot = token.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  std::string payload, given;
  if (!util::base64url_decode(token.substr(0, dot), payload) || !util::base64url_decode(token.substr(dot + 1), given))
    return std::nullopt;
  if (!util::constant_time_equals(given, mac(key_, purpose, payload))) return std::nullopt;
  // base64url ignores the unused low bits of a last character; only the one canonical spelling
  // of a token is valid, so no altered token verifies.
  if (token != sign(purpose, payload)) return std::nullopt;
  return payload;
}

}  // namespace campaignd::tracking
