// Click payloads are "<send id>:<url>": the id is digits, so the first ':' splits them.
#include "daemon/tracking/tracking_links.hpp"

#include "daemon/util/strings.hpp"

namespace campaignd::tracking {

namespace {

std::optional<std::int64_t> parse_send_id(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  for (char c : text)
    if (c < '0' || c > '9') return std::nullopt;  // no sign, no spaces: one spelling per id
  long long id = 0;
  if (!util::parse_int(text, id) || id < 0) return std::nullopt;
  return id;
}

}  // namespace

bool is_redirectable_url(std::string_view url) {
  std::string lower = util::to_lower(url.substr(0, 8));
  size_t scheme = lower.starts_with("https://") ? 8 : lower.starts_with("http://") ? 7 : 0;
  if (scheme == 0 || url.size() == scheme || url[scheme] == '/') return false;
  for (char c : url) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7F) return false;  // header injection, and browsers would mangle it
  }
  return true;
}

TrackingLinks::TrackingLinks(std::string public_url, const TokenSigner& signer)
    : public_url_(std::move(public_url)), signer_(signer) {
  while (!public_url_.empty() && public_url_.back() == '/') public_url_.pop_back();
}

std::string TrackingLinks::open_url(std::int64_t send_id) const {
  return public_url_ + "/t/o/" + signer_.sign(TokenPurpose::open, std::to_string(send_id));
}

std::string TrackingLinks::click_url(std::int64_t send_id, std::string_view url) const {
  if (url.size() > kMaxUrlLength || !is_redirectable_url(url)) return {};
  std::string payload = std::to_string(send_id);
  payload += ':';
  payload += url;
  return public_url_ + "/t/c/" + signer_.sign(TokenPurpose::click, payload);
}

std::optional<std::string> TrackingLinks::verified_payload(TokenPurpose purpose, std::string_view token) const {
  auto payload = signer_.verify(purpose, token);
  // base64 lets the last character of each part vary in bits nobody reads; only the spelling we
  // issue is accepted, so an altered token is always refused.
  if (!payload || signer_.sign(purpose, *payload) != token) return std::nullopt;
  return payload;
}

std::optional<std::int64_t> TrackingLinks::open_send(std::string_view token) const {
  auto payload = verified_payload(TokenPurpose::open, token);
  if (!payload) return std::nullopt;
  return parse_send_id(*payload);
}

std::optional<std::pair<std::int64_t, std::string>> TrackingLinks::click_target(std::string_view token) const {
  auto payload = verified_payload(TokenPurpose::click, token);
  if (!payload) return std::nullopt;
  size_t colon = payload->find(':');
  if (colon == std::string::npos) return std::nullopt;
  auto id = parse_send_id(std::string_view(*payload).substr(0, colon));
  std::string url = payload->substr(colon + 1);
  if (!id || !is_redirectable_url(url)) return std::nullopt;
  return std::make_pair(*id, std::move(url));
}

}  // namespace campaignd::tracking
