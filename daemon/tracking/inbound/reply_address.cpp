#include "daemon/tracking/inbound/reply_address.hpp"

#include "daemon/tracking/inbound/mail_parser.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking::inbound {

namespace {

constexpr std::string_view kTag = "+r-";
constexpr std::string_view kPayloadPrefix = "reply:";

}  // namespace

std::string reply_address(std::string_view reply_to_address, std::int64_t send_id, const TokenSigner& signer) {
  std::string address = address_of(reply_to_address);
  auto at = address.rfind('@');
  if (at == std::string::npos || at == 0) return {};
  std::string token = signer.sign(TokenPurpose::open, std::string(kPayloadPrefix) + std::to_string(send_id));
  std::string tagged = address.substr(0, at) + std::string(kTag) + token + address.substr(at);
  // Keep a display name when one was given.
  auto open = reply_to_address.rfind('<');
  if (open == std::string_view::npos) return tagged;
  auto close = reply_to_address.find('>', open);
  std::string out(reply_to_address.substr(0, open + 1));
  out += tagged;
  out += close == std::string_view::npos ? std::string(">") : std::string(reply_to_address.substr(close));
  return out;
}

std::optional<std::int64_t> send_id_from_reply_address(std::string_view address, const TokenSigner& signer) {
  std::string bare = address_of(address);
  auto at = bare.rfind('@');
  if (at == std::string::npos) return std::nullopt;
  std::string_view local = std::string_view(bare).substr(0, at);
  auto tag = local.rfind(kTag);
  if (tag == std::string_view::npos) return std::nullopt;
  auto payload = signer.verify(TokenPurpose::open, local.substr(tag + kTag.size()));
  if (!payload || payload->rfind(kPayloadPrefix, 0) != 0) return std::nullopt;
  long long id = 0;
  if (!util::parse_int(std::string_view(*payload).substr(kPayloadPrefix.size()), id) || id <= 0) return std::nullopt;
  return id;
}

}  // namespace campaignd::tracking::inbound
