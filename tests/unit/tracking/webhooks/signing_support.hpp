// Signing as the providers do, so tests post genuinely signed webhooks: an EC P-256 key made with
// OpenSSL (SendGrid), an RSA key and self-signed certificate made with the openssl CLI (SNS),
// HMACs for Mailgun and Standard Webhooks.
#pragma once

#include <doctest/doctest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "daemon/util/crypto.hpp"
#include "tests/unit/tracking/webhooks/webhook_test_support.hpp"

namespace campaignd::tracking::webhooks::webhook_testing {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

inline std::string sign_with(EVP_PKEY* key, const EVP_MD* md, const std::string& data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  REQUIRE(EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key) == 1);
  size_t len = 0;
  REQUIRE(EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
  std::string sig(len, '\0');
  REQUIRE(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                         reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1);
  sig.resize(len);
  return sig;
}

// SendGrid's side: an EC P-256 key pair.
class EcKey {
 public:
  EcKey() : key_(EVP_EC_gen("P-256")) { REQUIRE(key_); }
  // What SendGrid shows as the verification key: base64 of the DER SubjectPublicKeyInfo.
  std::string spki_base64() const {
    unsigned char* der = nullptr;
    int len = i2d_PUBKEY(key_.get(), &der);
    REQUIRE(len > 0);
    std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    return util::base64_encode(out);
  }
  // base64 DER ECDSA signature over timestamp + body.
  std::string sign(const std::string& data) const { return util::base64_encode(sign_with(key_.get(), EVP_sha256(), data)); }

 private:
  Pkey key_;
};

// The SNS side: an RSA key and a self-signed certificate, made by the openssl CLI.
class RsaCertificate {
 public:
  explicit RsaCertificate(const campaignd::testing::TempFolder& tmp, const std::string& name = "sns")
      : key_path_(tmp.file(name + "-key.pem")), cert_path_(tmp.file(name + "-cert.pem")) {
    run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=sns.us-east-1.amazonaws.com -keyout '" +
        key_path_ + "' -out '" + cert_path_ + "' >/dev/null 2>&1");
    std::string pem = read_text(key_path_);
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    key_.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    REQUIRE(key_);
  }
  const std::string& cert_path() const { return cert_path_; }
  std::string sign(const std::string& data, const EVP_MD* md) const {
    return util::base64_encode(sign_with(key_.get(), md, data));
  }

 private:
  std::string key_path_, cert_path_;
  Pkey key_;
};

inline std::string mailgun_signature(const std::string& key, const std::string& timestamp, const std::string& token) {
  return util::to_hex(util::hmac_sha256(key, timestamp + token));
}

inline std::string standard_signature(const std::string& key, const std::string& id, const std::string& timestamp,
                                      const std::string& body) {
  return "v1," + util::base64_encode(util::hmac_sha256(key, id + "." + timestamp + "." + body));
}

}  // namespace campaignd::tracking::webhooks::webhook_testing
