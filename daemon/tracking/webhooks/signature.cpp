// The signature schemes on OpenSSL (see signature.hpp for each contract).
#include "daemon/tracking/webhooks/signature.hpp"

#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <optional>
#include <utility>

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking::webhooks {

namespace {

using nlohmann::json;

constexpr std::array<std::pair<std::string_view, Scheme>, 6> kSchemes = {{
    {"sendgrid-ecdsa", Scheme::sendgrid_ecdsa},
    {"mailgun-hmac", Scheme::mailgun_hmac},
    {"postmark-basic", Scheme::postmark_basic},
    {"sns-rsa", Scheme::sns_rsa},
    {"standard-webhooks", Scheme::standard_webhooks},
    {"none", Scheme::none},
}};

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct CurlUrlFree {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

// True when `signature` is a valid signature of `data` by `key` with digest `md`.
bool verify_digest(EVP_PKEY* key, const EVP_MD* md, std::string_view data, std::string_view signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
                          reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
}

Result<util::UnixTime> parse_timestamp(std::string_view text, const std::string& what) {
  long long t = 0;
  if (!util::parse_int(util::trim(text), t) || t < 0) return fail(what + " is not a Unix timestamp");
  return static_cast<util::UnixTime>(t);
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string_view scheme_name(Scheme scheme) {
  for (const auto& [name, s] : kSchemes)
    if (s == scheme) return name;
  return "none";
}

bool parse_scheme(std::string_view name, Scheme& out) {
  for (const auto& [n, s] : kSchemes)
    if (n == name) {
      out = s;
      return true;
    }
  return false;
}

bool base64_decode(std::string_view text, std::string& out) {
  out.clear();
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return false;
  unsigned v = 0;
  int bits = 0;
  for (char c : text) {
    int d = base64_value(c);
    if (d < 0) return false;
    v = (v << 6) | static_cast<unsigned>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((v >> bits) & 0xff));
    }
  }
  return true;
}

// ---- Keys ------------------------------------------------------------------------------------

Result<PublicKey> PublicKey::from_sendgrid_key(std::string_view text) {
  text = util::trim(text);
  EVP_PKEY* raw = nullptr;
  if (text.starts_with("-----BEGIN")) {
    std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    if (bio) raw = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  } else {
    std::string der;
    if (!base64_decode(text, der)) return fail("the SendGrid public key is not base64");
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    raw = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  }
  if (!raw) return fail("the SendGrid public key is not a DER or PEM public key");
  PublicKey key;
  key.key_ = std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
  if (EVP_PKEY_base_id(raw) != EVP_PKEY_EC || EVP_PKEY_get_bits(raw) != 256)
    return fail("the SendGrid public key is not an EC P-256 key");
  return key;
}

Result<PublicKey> PublicKey::from_certificate_pem(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail("out of memory");
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return fail("not a PEM certificate");
  EVP_PKEY* raw = X509_get_pubkey(cert.get());
  if (!raw) return fail("the certificate has no usable public key");
  PublicKey key;
  key.key_ = std::shared_ptr<EVP_PKEY>(raw, EVP_PKEY_free);
  if (EVP_PKEY_base_id(raw) != EVP_PKEY_RSA) return fail("the certificate's key is not RSA");
  return key;
}

Status check_fresh(util::UnixTime timestamp, util::UnixTime now, std::int64_t tolerance_s) {
  if (tolerance_s <= 0) return {};
  std::int64_t skew = now - timestamp;
  if (skew > tolerance_s) return fail("stale timestamp (" + std::to_string(skew) + " s old)");
  if (-skew > tolerance_s) return fail("timestamp in the future (" + std::to_string(-skew) + " s ahead)");
  return {};
}

// ---- SendGrid --------------------------------------------------------------------------------

Status verify_sendgrid_ecdsa(const PublicKey& key, const http::HttpRequest& request, util::UnixTime now,
                             std::int64_t tolerance_s) {
  std::string signature_b64 = request.header("x-twilio-email-event-webhook-signature");
  std::string timestamp = request.header("x-twilio-email-event-webhook-timestamp");
  if (signature_b64.empty() || timestamp.empty())
    return fail("missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header");
  auto t = parse_timestamp(timestamp, "X-Twilio-Email-Event-Webhook-Timestamp");
  if (!t) return std::unexpected(t.error());
  if (auto fresh = check_fresh(*t, now, tolerance_s); !fresh) return fresh;
  std::string der;
  if (!base64_decode(util::trim(signature_b64), der)) return fail("signature is not base64");
  if (!verify_digest(key.get(), EVP_sha256(), timestamp + request.body, der)) return fail("bad signature");
  return {};
}

// ---- Mailgun ---------------------------------------------------------------------------------

Result<std::string> verify_mailgun_hmac(std::string_view signing_key, const json& body, util::UnixTime now,
                                        std::int64_t tolerance_s) {
  const json* sig = body.is_object() && body.contains("signature") ? &body["signature"] : nullptr;
  if (!sig || !sig->is_object()) return fail("missing signature object");
  auto text = [&](const char* name) -> std::string {
    auto it = sig->find(name);
    if (it == sig->end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_number_integer()) return it->dump();
    return {};
  };
  std::string timestamp = text("timestamp"), token = text("token"), signature = text("signature");
  if (timestamp.empty() || token.empty() || signature.empty())
    return fail("signature needs timestamp, token and signature");
  if (token.size() > 256) return fail("signature token is too long");
  auto t = parse_timestamp(timestamp, "signature.timestamp");
  if (!t) return std::unexpected(t.error());
  if (auto fresh = check_fresh(*t, now, tolerance_s); !fresh) return std::unexpected(fresh.error());
  std::string expected = util::to_hex(util::hmac_sha256(signing_key, timestamp + token));
  if (!util::constant_time_equals(expected, util::to_lower(signature))) return fail("bad signature");
  return token;
}

// ---- Postmark --------------------------------------------------------------------------------

Status verify_postmark_basic(std::string_view user_password, const http::HttpRequest& request) {
  std::string authorization(util::trim(request.header("authorization")));
  if (authorization.empty()) return fail("missing Authorization header (Basic auth)");
  auto space = authorization.find(' ');
  if (space == std::string::npos || !util::iequals(authorization.substr(0, space), "basic"))
    return fail("Authorization is not Basic");
  std::string decoded;
  if (!base64_decode(util::trim(std::string_view(authorization).substr(space + 1)), decoded))
    return fail("Authorization is not base64");
  if (!util::constant_time_equals(util::sha256_hex(decoded), util::sha256_hex(user_password)))
    return fail("bad credentials");
  return {};
}

// ---- Amazon SNS ------------------------------------------------------------------------------

Result<std::string> sns_canonical_string(const json& body) {
  if (!body.is_object()) return fail("an SNS message is a JSON object");
  auto str = [&](const char* name) -> const std::string* {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
  };
  const std::string* type = str("Type");
  if (!type) return fail("SNS message has no Type");
  std::vector<const char*> fields;
  if (*type == "Notification")
    fields = {"Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"};
  else if (*type == "SubscriptionConfirmation" || *type == "UnsubscribeConfirmation")
    fields = {"Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"};
  else
    return fail("unknown SNS Type '" + *type + "'");
  std::string out;
  for (const char* name : fields) {
    const std::string* value = str(name);
    if (!value) {
      if (std::string_view(name) == "Subject") continue;  // optional, and then not signed
      return fail(std::string("SNS message has no ") + name);
    }
    out.append(name).append("\n").append(*value).append("\n");
  }
  return out;
}

Status verify_sns_rsa(const std::vector<PublicKey>& certificates, const std::vector<std::string>& topic_arns,
                      const json& body) {
  auto canonical = sns_canonical_string(body);
  if (!canonical) return std::unexpected(canonical.error());
  auto field = [&](const char* name) {
    auto it = body.find(name);
    return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string version = field("SignatureVersion");
  const EVP_MD* md = version == "1" ? EVP_sha1() : version == "2" ? EVP_sha256() : nullptr;
  if (!md) return fail("unsupported SNS SignatureVersion '" + version + "'");
  if (!is_amazonaws_https_url(field("SigningCertURL"))) return fail("SigningCertURL is not an https amazonaws.com address");
  std::string signature;
  if (!base64_decode(field("Signature"), signature) || signature.empty()) return fail("SNS Signature is not base64");
  bool good = false;
  for (const auto& cert : certificates)
    if (verify_digest(cert.get(), md, *canonical, signature)) {
      good = true;
      break;
    }
  if (!good) return fail("bad signature");
  if (!topic_arns.empty()) {
    std::string topic = field("TopicArn");
    bool known = false;
    for (const auto& arn : topic_arns) known = known || arn == topic;
    if (!known) return fail("TopicArn " + topic + " is not one of this adapter's topic_arns");
  }
  return {};
}

bool is_amazonaws_https_url(const std::string& url) {
  std::unique_ptr<CURLU, CurlUrlFree> u(curl_url());
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return false;
  auto part = [&](CURLUPart which) -> std::optional<std::string> {
    char* text = nullptr;
    if (curl_url_get(u.get(), which, &text, 0) != CURLUE_OK || !text) return std::nullopt;
    std::string out(text);
    curl_free(text);
    return out;
  };
  auto scheme = part(CURLUPART_SCHEME);
  auto host = part(CURLUPART_HOST);
  if (!scheme || util::to_lower(*scheme) != "https" || !host) return false;
  if (part(CURLUPART_USER) || part(CURLUPART_PASSWORD)) return false;
  std::string h = util::to_lower(*host);
  return h.size() > 14 && h.ends_with(".amazonaws.com");
}

// ---- Standard Webhooks -----------------------------------------------------------------------

Result<std::string> decode_standard_webhooks_secret(std::string_view secret) {
  secret = util::trim(secret);
  if (secret.starts_with("whsec_")) secret.remove_prefix(6);
  std::string key;
  if (secret.empty() || !base64_decode(secret, key) || key.empty())
    return fail("the Standard Webhooks secret is not whsec_<base64>");
  return key;
}

Status verify_standard_webhooks(std::string_view key, const http::HttpRequest& request, util::UnixTime now,
                                std::int64_t tolerance_s) {
  std::string id = request.header("webhook-id");
  std::string timestamp = request.header("webhook-timestamp");
  std::string signatures = request.header("webhook-signature");
  if (id.empty() || timestamp.empty() || signatures.empty())
    return fail("missing webhook-id, webhook-timestamp or webhook-signature header");
  auto t = parse_timestamp(timestamp, "webhook-timestamp");
  if (!t) return std::unexpected(t.error());
  if (auto fresh = check_fresh(*t, now, tolerance_s); !fresh) return fresh;
  std::string expected = util::base64_encode(util::hmac_sha256(key, id + "." + timestamp + "." + request.body));
  bool good = false;
  for (const auto& item : util::split(signatures, ' ')) {
    std::string_view entry = util::trim(item);
    if (!entry.starts_with("v1,")) continue;  // other versions (v1a: asymmetric) are not ours
    // Every entry is compared, so the time taken does not say which one matched.
    if (util::constant_time_equals(entry.substr(3), expected)) good = true;
  }
  if (!good) return fail("bad signature");
  return {};
}

}  // namespace campaignd::tracking::webhooks
