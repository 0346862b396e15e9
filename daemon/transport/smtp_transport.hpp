// smtp://host[:port][/ehlo-name] and smtps://host[:port][/ehlo-name]: our own SMTP client.
//
// libcurl's SMTP took a third of the send pipeline's CPU in a profile (a poll and a send per
// command, the debug callback we needed to see the replies); this client sends MAIL FROM,
// RCPT TO and DATA in one write when the server offers PIPELINING (RFC 2920), and the
// dot-stuffed message with its final dot in one more, so a message costs two round trips.
//
// Each Session owns one connection and keeps it between messages (the next one starts at MAIL
// FROM); a connection idle for a minute, or that the server closed meanwhile, is replaced
// before use, and after any error it is dropped so the next send connects afresh. Outcomes:
//   sent    only with a 2xx reply to the final dot;
//   failed  a 5xx to MAIL FROM, RCPT TO, DATA or the final dot (except the authentication
//           codes 530/534/535/538, which are our configuration, not the recipient);
//   retry   everything else: 4xx, 5xx before MAIL FROM (greeting, EHLO, STARTTLS, AUTH),
//           refused or dropped connections, timeouts, TLS errors, a dot with no answer.
// TLS: smtps:// is implicit TLS with the certificate verified. smtp:// with credentials
// requires STARTTLS with a verified certificate unless the host is loopback, so a password
// never crosses a network in clear. smtp:// without credentials uses STARTTLS when offered,
// unverified (opportunistic, RFC 7435, as MTAs do), else plain text.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "daemon/transport/transport.hpp"

namespace campaignd::transport {

// The url parsed; the password never appears in describe() or in errors.
struct SmtpSettings {
  std::string curl_url;   // scheme://host:port[/ehlo-name], no credentials: for logs
  std::string host;       // as in the url ("[::1]" keeps its brackets)
  std::string port;
  std::string ehlo_name;  // the url's path, else "localhost"
  std::string username;   // from the options, else from the url
  std::string password;
  bool implicit_tls = false;
  bool loopback = false;  // 127.0.0.0/8, ::1 or localhost
  int timeout_seconds = 60;
};

Result<SmtpSettings> parse_smtp_url(const TransportOptions& options);

// The message as it goes after DATA: a '.' doubled at the start of every line (RFC 5321
// 4.5.2), a CRLF added if it lacks a final line end, then the ending ".\r\n". Into `out`
// (cleared first), so a session reuses one buffer.
void dot_stuff(std::string_view message, std::string& out);

struct SmtpTls;  // the TLS contexts a transport's sessions share

class SmtpTransport final : public Transport {
 public:
  static Result<std::unique_ptr<Transport>> create(const TransportOptions& options);
  explicit SmtpTransport(SmtpSettings settings);

  Result<std::unique_ptr<Session>> open_session() override;
  std::string describe() const override { return settings_->curl_url; }

 private:
  std::shared_ptr<const SmtpSettings> settings_;
  std::shared_ptr<const SmtpTls> tls_;
};

}  // namespace campaignd::transport
