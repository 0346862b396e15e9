// The bytes of one SMTP connection: a TCP socket with a timeout on every wait and, for smtps://
// or after STARTTLS, TLS through OpenSSL. OpenSSL works on memory buffers and the socket I/O
// stays here, so every wait has our timeout and a peer that hung up never raises SIGPIPE
// (send with MSG_NOSIGNAL), whatever the process's signal settings.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "daemon/util/result.hpp"

namespace campaignd::transport {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
using SslContext = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslSession = std::unique_ptr<SSL, SslDeleter>;

// A client context, TLS 1.2 or newer. With `verify` the server's chain must lead to one of the
// system's CAs (the name is checked per connection, in start_tls); without, any certificate
// is taken: opportunistic STARTTLS (RFC 7435), which still beats plain text.
Result<SslContext> make_tls_client_context(bool verify);

class SmtpConnection {
  struct Key {  // private: only open() makes connections
    explicit Key() = default;
  };

 public:
  // Resolves host ("[::1]" brackets allowed) and connects to the first address that answers
  // within timeout_seconds. Every later read or write waits at most timeout_seconds too.
  static Result<std::unique_ptr<SmtpConnection>> open(const std::string& host, const std::string& port,
                                                       int timeout_seconds);
  // Owns `fd` from here on.
  SmtpConnection(Key, int fd, int timeout_seconds) : fd_(fd), timeout_seconds_(timeout_seconds) {}
  ~SmtpConnection();
  SmtpConnection(const SmtpConnection&) = delete;
  SmtpConnection& operator=(const SmtpConnection&) = delete;

  // The TLS handshake on this connection; with `verify`, the certificate must also name host.
  Status start_tls(SSL_CTX* ctx, const std::string& host, bool verify);
  Status write(std::string_view bytes);
  // Appends what arrives (at least one byte) to `out`; an error on timeout, end of stream or
  // TLS failure.
  Status read_some(std::string& out);
  // The peer hung up, or said something unasked, while the connection sat idle: a reused
  // connection in that state would lose the next message's first reply.
  bool stale() const;
  bool encrypted() const { return ssl_ != nullptr; }

 private:
  Status send_all(const char* data, size_t size);
  Result<size_t> receive(char* data, size_t size);
  Status flush_tls();   // what OpenSSL wrote into its output buffer, onto the socket
  Status fill_tls();    // one read from the socket into OpenSSL's input buffer

  int fd_ = -1;
  int timeout_seconds_ = 60;
  SslSession ssl_;
  BIO* tls_in_ = nullptr;   // owned by ssl_
  BIO* tls_out_ = nullptr;  // owned by ssl_
};

}  // namespace campaignd::transport
