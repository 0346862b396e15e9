// DkimKeyring: loads the configured keys and signs a message with every key of its From domain.
#include "daemon/render/dkim_keyring.hpp"

#include <algorithm>
#include <filesystem>

#include "daemon/util/strings.hpp"

namespace campaignd::render {

namespace {

std::string resolve(const std::string& key_file, const std::string& base_dir) {
  std::filesystem::path path(key_file);
  if (path.is_absolute() || base_dir.empty()) return key_file;
  return (std::filesystem::path(base_dir) / path).lexically_normal().string();
}

std::string describe(const config::DkimKey& key) {
  return "dkim key for " + util::strip_controls(key.domain) + " (selector " + util::strip_controls(key.selector) + ")";
}

}  // namespace

Result<DkimKeyring> DkimKeyring::load(const std::vector<config::DkimKey>& keys, const std::string& base_dir) {
  DkimKeyring ring;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& key = keys[i];
    for (std::size_t j = 0; j < i; ++j)
      if (util::iequals(keys[j].domain, key.domain) && util::iequals(keys[j].selector, key.selector))
        return fail(describe(key) + ": selector listed twice for the domain");
    auto signer = DkimSigner::load(key.domain, key.selector, resolve(key.key_file, base_dir));
    if (!signer) return fail(describe(key) + ": " + signer.error());
    ring.signers_.push_back(std::move(*signer));
  }
  for (const auto& signer : ring.signers_) {
    if (signer.algorithm_kind() != DkimAlgorithm::ed25519_sha256) continue;
    bool has_rsa = std::any_of(ring.signers_.begin(), ring.signers_.end(), [&](const DkimSigner& other) {
      return other.algorithm_kind() == DkimAlgorithm::rsa_sha256 && util::iequals(other.domain(), signer.domain());
    });
    if (!has_rsa)
      return fail("dkim key for " + signer.domain() + " (selector " + signer.selector() + "): an ed25519 key " +
                  "needs an RSA key for the same domain next to it; many receivers cannot verify ed25519 alone");
  }
  std::stable_partition(ring.signers_.begin(), ring.signers_.end(),
                        [](const DkimSigner& s) { return s.algorithm_kind() == DkimAlgorithm::rsa_sha256; });
  return ring;
}

bool DkimKeyring::has_domain(std::string_view domain) const {
  return std::any_of(signers_.begin(), signers_.end(),
                     [&](const DkimSigner& s) { return util::iequals(s.domain(), domain); });
}

Result<std::string> DkimKeyring::sign(std::string_view message, std::string_view from_domain,
                                      util::UnixTime now) const {
  std::string fields;
  for (const auto& signer : signers_) {
    if (!util::iequals(signer.domain(), from_domain)) continue;
    auto field = signer.signature_header(message, now);
    if (!field) return std::unexpected(field.error());
    fields += *field;
  }
  fields += message;
  return fields;
}

}  // namespace campaignd::render
