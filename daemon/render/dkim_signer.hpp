// One DKIM key (RFC 6376, c=relaxed/relaxed): rsa-sha256 (RFC 8301) or ed25519-sha256 (RFC 8463).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

typedef struct evp_pkey_st EVP_PKEY;

namespace campaignd::render {

enum class DkimAlgorithm { rsa_sha256, ed25519_sha256 };

// Immutable after load; signature_header may be called from any number of threads at once
// (OpenSSL 3 allows concurrent signing with one EVP_PKEY; each call has its own context).
// Copies share the key.
class DkimSigner {
 public:
  // Reads the PEM private key once. Refuses RSA keys under 1024 bits (RFC 8301), encrypted keys
  // and key types other than RSA and Ed25519; logs a warning for RSA under 2048 bits. domain and
  // selector must be DNS names (letters, digits, '-', '_', '.'). Errors name the key file.
  static Result<DkimSigner> load(std::string domain, std::string selector, const std::string& key_file);

  // The complete "DKIM-Signature: ...\r\n" field to put in front of message (a whole RFC 5322
  // message with CRLF line ends), folded to 78 characters. t= is now. Signs, bottom-up, every
  // instance of From, To, Subject, Date, Message-ID, Reply-To, MIME-Version, Content-Type,
  // Content-Transfer-Encoding, List-Id, List-Unsubscribe, List-Unsubscribe-Post and
  // Auto-Submitted present, and From and Subject once more than present so that none can be
  // added later. No l= tag. Fails on a message without From or with bad line ends or headers.
  Result<std::string> signature_header(std::string_view message, util::UnixTime now) const;

  DkimAlgorithm algorithm_kind() const { return algorithm_; }
  std::string algorithm() const;  // "rsa-sha256" or "ed25519-sha256"
  const std::string& domain() const { return domain_; }
  const std::string& selector() const { return selector_; }
  const std::string& key_file() const { return key_file_; }
  int key_bits() const { return bits_; }

 private:
  DkimSigner(std::string domain, std::string selector, std::string key_file, std::shared_ptr<EVP_PKEY> key,
             DkimAlgorithm algorithm, int bits);
  Result<std::string> sign_bytes(std::string_view data) const;

  std::string domain_;
  std::string selector_;
  std::string key_file_;
  std::shared_ptr<EVP_PKEY> key_;  // freed with EVP_PKEY_free
  DkimAlgorithm algorithm_;
  int bits_;
};

}  // namespace campaignd::render
