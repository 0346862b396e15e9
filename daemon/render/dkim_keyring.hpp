// The configured DKIM keys (campaignd.yaml `dkim:`), grouped by signing domain.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/config/config.hpp"
#include "daemon/render/dkim_signer.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::render {

// Immutable after load; sign may be called from any number of threads at once.
class DkimKeyring {
 public:
  // Reads every key file once; a relative key_file resolves against base_dir (the config file's
  // folder). A domain may have several keys, e.g. one RSA and one Ed25519, but an Ed25519 key
  // only next to an RSA one (STANDARDS.md: never instead of RSA, as many receivers cannot
  // verify Ed25519), and each selector once. Errors name the domain, selector and file.
  static Result<DkimKeyring> load(const std::vector<config::DkimKey>& keys, const std::string& base_dir);

  // message with one DKIM-Signature per key of from_domain (compared without case) in front,
  // RSA signatures first; message unchanged when no key matches.
  Result<std::string> sign(std::string_view message, std::string_view from_domain, util::UnixTime now) const;

  bool empty() const { return signers_.empty(); }
  bool has_domain(std::string_view domain) const;
  const std::vector<DkimSigner>& signers() const { return signers_; }

 private:
  std::vector<DkimSigner> signers_;  // RSA before Ed25519, otherwise in config order
};

}  // namespace campaignd::render
