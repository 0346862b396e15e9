// The open-pixel and click URLs we put in mail, and reading them back. A click token's signed
// payload carries the send id and the original URL, so the redirect can only ever lead to a URL
// we signed ourselves (no open redirect), and only to http(s).
//
// Thread-safe: const, no state besides the signer's key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "daemon/tracking/token.hpp"

namespace campaignd::tracking {

class TrackingLinks {
 public:
  // `public_url` is the configured base ("http://127.0.0.1:8025", a trailing '/' is fine).
  // The signer must outlive this object.
  TrackingLinks(std::string public_url, const TokenSigner& signer);

  // `<public_url>/t/o/<token>`.
  std::string open_url(std::int64_t send_id) const;
  // `<public_url>/t/c/<token>`; empty when `url` is not an http(s) URL, holds control characters,
  // or is too long to carry in a token: such a link is left untracked.
  std::string click_url(std::int64_t send_id, std::string_view url) const;

  // The send id of an intact open token.
  std::optional<std::int64_t> open_send(std::string_view token) const;
  // The send id and the original URL of an intact click token whose URL is http(s).
  std::optional<std::pair<std::int64_t, std::string>> click_target(std::string_view token) const;

  const std::string& public_url() const { return public_url_; }

  // Longest URL a click token carries; longer links stay untracked (TokenSigner::verify refuses
  // tokens above 4096 characters, and base64 grows the payload by a third).
  static constexpr size_t kMaxUrlLength = 2800;

 private:
  std::optional<std::string> verified_payload(TokenPurpose purpose, std::string_view token) const;

  std::string public_url_;
  const TokenSigner& signer_;
};

// True for "http://…" / "https://…" (scheme in any case) with something after the "//" and no
// control characters or spaces: what we are willing to send a browser to.
bool is_redirectable_url(std::string_view url);

}  // namespace campaignd::tracking
