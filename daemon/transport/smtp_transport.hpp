// smtp://host[:port][/ehlo-name] and smtps://host[:port][/ehlo-name] through libcurl.
//
// Each Session owns one curl easy handle and performs every send on it, so the connection is
// reused (the next message starts at MAIL FROM); after any error the handle is dropped and the
// next send connects afresh. Outcomes:
//   sent    only with a 2xx reply to the final dot (never on curl's word alone);
//   failed  a 5xx to MAIL FROM, RCPT TO, DATA or the final dot (except the authentication
//           codes 530/534/535/538, which are our configuration, not the recipient);
//   retry   everything else: 4xx, 5xx before MAIL FROM (greeting, EHLO, AUTH), refused or
//           dropped connections, timeouts, TLS errors, a dot with no answer.
// TLS: smtps:// is implicit TLS with the certificate verified. smtp:// with credentials
// requires STARTTLS with a verified certificate unless the host is loopback, so a password
// never crosses a network in clear. smtp:// without credentials uses STARTTLS when offered,
// unverified (opportunistic, RFC 7435, as MTAs do), else plain text.
#pragma once

#include <memory>
#include <string>

#include "daemon/transport/transport.hpp"

namespace campaignd::transport {

// The url parsed; the password never appears in describe() or in errors.
struct SmtpSettings {
  std::string curl_url;   // scheme://host:port[/ehlo-name], no credentials
  std::string username;   // from the options, else from the url
  std::string password;
  bool implicit_tls = false;
  bool loopback = false;  // 127.0.0.0/8, ::1 or localhost
  int timeout_seconds = 60;
};

Result<SmtpSettings> parse_smtp_url(const TransportOptions& options);

class SmtpTransport final : public Transport {
 public:
  static Result<std::unique_ptr<Transport>> create(const TransportOptions& options);
  explicit SmtpTransport(SmtpSettings settings);

  Result<std::unique_ptr<Session>> open_session() override;
  std::string describe() const override { return settings_->curl_url; }

 private:
  std::shared_ptr<const SmtpSettings> settings_;
};

}  // namespace campaignd::transport
