// DkimSigner: key loading with OpenSSL 3 EVP, the DKIM-Signature field, and its folding.
#include "daemon/render/dkim_signer.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "daemon/render/dkim_canonical.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::render {

namespace {

// ---- OpenSSL handles -------------------------------------------------------------------------

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The oldest queued OpenSSL error as text, and the queue emptied so it cannot leak into the
// next caller's diagnostics.
std::string openssl_error() {
  unsigned long code = ERR_peek_last_error();
  std::string text;
  if (code != 0) {
    std::array<char, 256> buf{};
    ERR_error_string_n(code, buf.data(), buf.size());
    text = buf.data();
  }
  ERR_clear_error();
  return text.empty() ? "unknown OpenSSL error" : text;
}

// Never prompt on a terminal for a pass phrase: an encrypted key simply fails to load.
int no_passphrase(char*, int, int, void*) { return 0; }

// The DKIM tags d= and s= end up in a header and in a DNS name: nothing else is allowed there.
bool is_dns_name(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '.' || s.back() == '.' || s.find("..") != std::string_view::npos)
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
          c == '.'))
      return false;
  return true;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("dkim key file " + path + ": cannot open: " + std::strerror(errno));
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return fail("dkim key file " + path + ": read error");
  return data;
}

Result<std::string> sha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md.data(), &len, EVP_sha256(), nullptr) != 1)
    return fail("sha256: " + openssl_error());
  return std::string(reinterpret_cast<const char*>(md.data()), len);
}

// ---- Which headers are signed ----------------------------------------------------------------

// In h= order. From and Subject are over-signed: listed once more than they occur.
constexpr std::array<std::string_view, 13> kSignedHeaders = {
    "from", "to", "subject", "date", "message-id", "reply-to", "mime-version", "content-type",
    "content-transfer-encoding", "list-id", "list-unsubscribe", "list-unsubscribe-post", "auto-submitted"};

bool is_oversigned(std::string_view name) { return name == "from" || name == "subject"; }

// ---- Folding ---------------------------------------------------------------------------------

// Builds a header field from atoms, breaking lines before an atom that would pass 78 columns.
// A break is CRLF + one space, which is folding whitespace wherever DKIM's tag syntax allows it
// (between tags, around ':' in h=, inside base64).
class Folder {
 public:
  explicit Folder(std::string_view start) : text_(start), column_(start.size()) {}

  enum class Join { space, glued };
  // keep_with: how many characters that follow must share the atom's line.
  void add(std::string_view atom, Join join, std::size_t keep_with = 0) {
    const std::size_t sep = join == Join::space ? 1 : 0;
    if (column_ + sep + atom.size() + keep_with > kWidth && column_ > 1) {
      text_ += "\r\n ";
      column_ = 1;
    } else if (sep) {
      text_ += ' ';
      ++column_;
    }
    text_ += atom;
    column_ += atom.size();
  }

  // Base64 may break anywhere: fill each line to the width.
  void add_breakable(std::string_view data) {
    while (!data.empty()) {
      if (column_ >= kWidth) {
        text_ += "\r\n ";
        column_ = 1;
      }
      std::size_t n = std::min(data.size(), kWidth - column_);
      text_ += data.substr(0, n);
      column_ += n;
      data.remove_prefix(n);
    }
  }

  const std::string& text() const { return text_; }

 private:
  static constexpr std::size_t kWidth = 78;
  std::string text_;
  std::size_t column_;
};

}  // namespace

// ---- Loading ---------------------------------------------------------------------------------

DkimSigner::DkimSigner(std::string domain, std::string selector, std::string key_file, std::shared_ptr<EVP_PKEY> key,
                       DkimAlgorithm algorithm, int bits)
    : domain_(std::move(domain)),
      selector_(std::move(selector)),
      key_file_(std::move(key_file)),
      key_(std::move(key)),
      algorithm_(algorithm),
      bits_(bits) {}

Result<DkimSigner> DkimSigner::load(std::string domain, std::string selector, const std::string& key_file) {
  if (!is_dns_name(domain))
    return fail("dkim key file " + key_file + ": invalid domain '" + util::strip_controls(domain) + "'");
  if (!is_dns_name(selector))
    return fail("dkim key file " + key_file + ": invalid selector '" + util::strip_controls(selector) + "'");

  auto pem = read_file(key_file);
  if (!pem) return std::unexpected(pem.error());
  std::error_code ec;
  const auto perms = std::filesystem::status(key_file, ec).permissions();
  if (!ec && (perms & std::filesystem::perms::others_read) != std::filesystem::perms::none)
    spdlog::warn("dkim key file {}: readable by every user; chmod 600 it", key_file);
  if (pem->find("-----BEGIN") == std::string::npos)
    return fail("dkim key file " + key_file + ": not a PEM file (no -----BEGIN line)");

  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  if (!bio) return fail("dkim key file " + key_file + ": " + openssl_error());
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  if (!key)
    return fail("dkim key file " + key_file + ": not an unencrypted PEM private key (" + openssl_error() + ")");

  DkimAlgorithm algorithm;
  const int bits = EVP_PKEY_get_bits(key.get());
  switch (EVP_PKEY_get_base_id(key.get())) {
    case EVP_PKEY_RSA:
      algorithm = DkimAlgorithm::rsa_sha256;
      if (bits < 1024)
        return fail("dkim key file " + key_file + ": RSA key of " + std::to_string(bits) +
                    " bits is too short; RFC 8301 requires at least 1024 (use 2048)");
      if (bits < 2048)
        spdlog::warn("dkim key file {}: RSA key of {} bits; 2048 bits are recommended", key_file, bits);
      break;
    case EVP_PKEY_ED25519:
      algorithm = DkimAlgorithm::ed25519_sha256;
      break;
    default: {
      const char* type = EVP_PKEY_get0_type_name(key.get());
      return fail("dkim key file " + key_file + ": unsupported key type '" + (type ? type : "unknown") +
                  "'; use RSA or Ed25519");
    }
  }
  std::shared_ptr<EVP_PKEY> shared(std::move(key));
  return DkimSigner(std::move(domain), std::move(selector), key_file, std::move(shared), algorithm, bits);
}

std::string DkimSigner::algorithm() const {
  return algorithm_ == DkimAlgorithm::rsa_sha256 ? "rsa-sha256" : "ed25519-sha256";
}

// ---- Signing ---------------------------------------------------------------------------------

Result<std::string> DkimSigner::sign_bytes(std::string_view data) const {
  // RFC 8463 section 3: Ed25519 (PureEdDSA) signs the SHA-256 hash of the header data, not the
  // data itself; rsa-sha256 hashes the data inside the PKCS#1 v1.5 signature.
  std::string to_sign;
  const EVP_MD* md = nullptr;
  if (algorithm_ == DkimAlgorithm::ed25519_sha256) {
    auto hash = sha256(data);
    if (!hash) return std::unexpected(hash.error());
    to_sign = std::move(*hash);
    data = to_sign;
  } else {
    md = EVP_sha256();
  }

  ERR_clear_error();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return fail("dkim " + key_file_ + ": " + openssl_error());
  if (EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key_.get()) != 1)
    return fail("dkim " + key_file_ + ": cannot start signing: " + openssl_error());
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  std::size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, bytes, data.size()) != 1)
    return fail("dkim " + key_file_ + ": cannot size the signature: " + openssl_error());
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, bytes, data.size()) != 1)
    return fail("dkim " + key_file_ + ": signing failed: " + openssl_error());
  sig.resize(len);
  return sig;
}

Result<std::string> DkimSigner::signature_header(std::string_view message, util::UnixTime now) const {
  auto split = dkim_split_message(message);
  if (!split) return fail("dkim: cannot sign the message: " + split.error());
  const auto& headers = split->headers;

  // h=: every instance of each listed name, plus one more From and Subject. The header data
  // takes instances bottom-up (RFC 6376 5.4.2); a name listed beyond its instances adds nothing.
  std::vector<std::string_view> h;
  std::string header_data;
  for (std::string_view name : kSignedHeaders) {
    std::size_t count = 0;
    for (auto it = headers.rbegin(); it != headers.rend(); ++it) {
      if (!util::iequals(it->name, name)) continue;
      header_data += dkim_relaxed_header(it->name, it->value);
      header_data += "\r\n";
      h.push_back(name);
      ++count;
    }
    if (name == "from" && count == 0) return fail("dkim: cannot sign a message without a From header");
    if (is_oversigned(name)) h.push_back(name);
  }

  auto body_hash = sha256(dkim_relaxed_body(split->body));
  if (!body_hash) return std::unexpected(body_hash.error());

  Folder f("DKIM-Signature:");
  using Join = Folder::Join;
  f.add("v=1;", Join::space);
  f.add("a=" + algorithm() + ";", Join::space);
  f.add("c=relaxed/relaxed;", Join::space);
  f.add("d=" + domain_ + ";", Join::space);
  f.add("s=" + selector_ + ";", Join::space);
  f.add("t=" + std::to_string(now) + ";", Join::space);
  for (std::size_t i = 0; i < h.size(); ++i) {
    std::string atom = (i == 0 ? "h=" : "") + std::string(h[i]) + (i + 1 == h.size() ? ";" : ":");
    f.add(atom, i == 0 ? Join::space : Join::glued);
  }
  f.add("bh=" + util::base64_encode(*body_hash) + ";", Join::space);
  // "b=" and at least one signature character on the same line, so the value removed by a
  // verifier starts right after the '='.
  f.add("b=", Join::space, 1);
  const std::string unsigned_field = f.text();

  // The signature field itself is hashed last, with b= empty and no trailing CRLF.
  header_data += dkim_relaxed_header("DKIM-Signature", std::string_view(unsigned_field).substr(unsigned_field.find(':') + 1));

  auto signature = sign_bytes(header_data);
  if (!signature) return std::unexpected(signature.error());
  f.add_breakable(util::base64_encode(*signature));
  return f.text() + "\r\n";
}

}  // namespace campaignd::render
