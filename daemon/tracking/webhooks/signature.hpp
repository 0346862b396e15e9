// The webhook signature schemes, one function per scheme. Adapters (yaml) only name a scheme;
// the cryptography lives here, on OpenSSL. Every check that fails returns an error whose text is
// the reason a 401 carries; comparisons of secrets and MACs are constant-time.
//
// Thread-safe: the functions keep no state; a PublicKey may be shared by threads (OpenSSL
// verification only reads the key).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/types.h>

#include "daemon/http/http_types.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::tracking::webhooks {

enum class Scheme { sendgrid_ecdsa, mailgun_hmac, postmark_basic, sns_rsa, standard_webhooks, none };

// "sendgrid-ecdsa" etc., as written in adapter files.
std::string_view scheme_name(Scheme scheme);
bool parse_scheme(std::string_view name, Scheme& out);

// A public key for signature checks (SendGrid's ECDSA key, an SNS signing certificate's RSA key).
class PublicKey {
 public:
  // SendGrid's form: base64 of the DER SubjectPublicKeyInfo; a PEM "PUBLIC KEY" block also works.
  // Only EC P-256 keys are accepted: the scheme is ECDSA P-256.
  static Result<PublicKey> from_sendgrid_key(std::string_view text);
  // The public key of a PEM X.509 certificate (the SNS signing certificate).
  static Result<PublicKey> from_certificate_pem(std::string_view pem);

  EVP_PKEY* get() const { return key_.get(); }

 private:
  std::shared_ptr<EVP_PKEY> key_;
};

// Standard base64 with or without '=' padding; whitespace is not allowed. False on bad input.
bool base64_decode(std::string_view text, std::string& out);

// A timestamp more than `tolerance_s` away from now (either way) is stale; tolerance 0 = any.
Status check_fresh(util::UnixTime timestamp, util::UnixTime now, std::int64_t tolerance_s);

// SendGrid: ECDSA P-256 / SHA-256 over timestamp + raw body. Headers
// X-Twilio-Email-Event-Webhook-Signature (base64 DER) and X-Twilio-Email-Event-Webhook-Timestamp.
Status verify_sendgrid_ecdsa(const PublicKey& key, const http::HttpRequest& request, util::UnixTime now,
                             std::int64_t tolerance_s);

// Mailgun: body.signature = {timestamp, token, signature}, signature = hex HMAC-SHA256 of
// timestamp + token under the signing key. Gives the token, which the caller remembers so a
// replay inside the tolerance window is refused.
Result<std::string> verify_mailgun_hmac(std::string_view signing_key, const nlohmann::json& body, util::UnixTime now,
                                        std::int64_t tolerance_s);

// Postmark: HTTP Basic auth whose decoded `user:password` equals the secret.
Status verify_postmark_basic(std::string_view user_password, const http::HttpRequest& request);

// Amazon SNS: RSA over the canonical string (sns_canonical_string), SignatureVersion 1 = SHA1,
// 2 = SHA256, checked against each configured certificate until one verifies. The
// SigningCertURL must be an https address on an amazonaws.com host even though the key itself
// comes from a configured file (no network). A non-empty `topic_arns` lists the only topics taken.
Status verify_sns_rsa(const std::vector<PublicKey>& certificates, const std::vector<std::string>& topic_arns,
                      const nlohmann::json& body);
// "Key\nvalue\n" for the fields AWS signs, in AWS's order, for the message's Type.
Result<std::string> sns_canonical_string(const nlohmann::json& body);

// Standard Webhooks 1.0: `v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`, several
// space-separated signatures allowed (key rotation). `key` is the decoded secret.
Status verify_standard_webhooks(std::string_view key, const http::HttpRequest& request, util::UnixTime now,
                                std::int64_t tolerance_s);
// "whsec_<base64>" (the prefix is optional) -> the raw key.
Result<std::string> decode_standard_webhooks_secret(std::string_view secret);

// True for https URLs whose host (as libcurl parses it) ends with ".amazonaws.com" and that carry
// no user info: where SNS certificates and subscription confirmations may come from.
bool is_amazonaws_https_url(const std::string& url);

}  // namespace campaignd::tracking::webhooks
