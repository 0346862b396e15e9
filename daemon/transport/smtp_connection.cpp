// TCP with timeouts, and TLS over OpenSSL memory BIOs.
#include "daemon/transport/smtp_connection.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstring>

namespace campaignd::transport {

namespace {

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  if (code == 0) return "unknown TLS error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

std::string errno_text(int error) { return std::strerror(error); }

// Waits for a non-blocking connect to finish; errno-style result (0 = connected).
int finish_connect(int fd, int timeout_seconds) {
  pollfd p{fd, POLLOUT, 0};
  int rc;
  do {
    rc = ::poll(&p, 1, timeout_seconds * 1000);
  } while (rc < 0 && errno == EINTR);
  if (rc == 0) return ETIMEDOUT;
  if (rc < 0) return errno;
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
  return error;
}

// "[::1]" -> "::1": urls bracket IPv6 literals, resolvers and certificate checks want them bare.
std::string bare_host(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') return host.substr(1, host.size() - 2);
  return host;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, host.c_str(), buffer) == 1;
}

}  // namespace

Result<SslContext> make_tls_client_context(bool verify) {
  SslContext ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return fail("cannot create a TLS context: " + openssl_error());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  if (verify) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1)
      return fail("cannot load the system's CA certificates: " + openssl_error());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

Result<std::unique_ptr<SmtpConnection>> SmtpConnection::open(const std::string& host_in, const std::string& port,
                                                              int timeout_seconds) {
  std::string host = bare_host(host_in);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return fail("cannot resolve " + host + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, &::freeaddrinfo);

  std::string last_error = "no address";
  for (addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
    int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) {
      last_error = errno_text(errno);
      continue;
    }
    auto connection = std::make_unique<SmtpConnection>(Key{}, fd, timeout_seconds);
    int error = ::connect(fd, a->ai_addr, a->ai_addrlen) == 0 ? 0 : errno;
    if (error == EINPROGRESS) error = finish_connect(fd, timeout_seconds);
    if (error != 0) {
      last_error = errno_text(error);
      continue;
    }
    // Blocking from here on, each wait bounded by the socket timeouts.
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeval tv{timeout_seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int on = 1;
    // Commands and the message go out in whole units already; Nagle would only hold them back.
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    ::setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    return connection;
  }
  return fail("cannot connect to " + host_in + ":" + port + ": " + last_error);
}

SmtpConnection::~SmtpConnection() {
  ssl_.reset();
  if (fd_ >= 0) ::close(fd_);
}

Status SmtpConnection::send_all(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return fail("the server took nothing for " + std::to_string(timeout_seconds_) + " s");
      return fail("sending to the server: " + errno_text(errno));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return {};
}

Result<size_t> SmtpConnection::receive(char* data, size_t size) {
  while (true) {
    ssize_t n = ::recv(fd_, data, size, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return fail("the server closed the connection");
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK)
      return fail("no answer from the server within " + std::to_string(timeout_seconds_) + " s");
    return fail("reading from the server: " + errno_text(errno));
  }
}

Status SmtpConnection::flush_tls() {
  char buffer[16384];
  while (BIO_ctrl_pending(tls_out_) > 0) {
    int n = BIO_read(tls_out_, buffer, sizeof buffer);
    if (n <= 0) break;
    if (auto s = send_all(buffer, static_cast<size_t>(n)); !s) return s;
  }
  return {};
}

Status SmtpConnection::fill_tls() {
  char buffer[16384];
  auto n = receive(buffer, sizeof buffer);
  if (!n) return std::unexpected(n.error());
  if (BIO_write(tls_in_, buffer, static_cast<int>(*n)) != static_cast<int>(*n)) return fail("TLS buffer: out of memory");
  return {};
}

Status SmtpConnection::start_tls(SSL_CTX* ctx, const std::string& host_in, bool verify) {
  std::string host = bare_host(host_in);
  SslSession ssl(SSL_new(ctx));
  if (!ssl) return fail("cannot start TLS: " + openssl_error());
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  if (!in || !out) {
    BIO_free(in);
    BIO_free(out);
    return fail("cannot start TLS: out of memory");
  }
  SSL_set_bio(ssl.get(), in, out);  // ssl owns both from here
  bool ip = is_ip_literal(host);
  if (!ip) SSL_set_tlsext_host_name(ssl.get(), host.c_str());
  if (verify) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl.get());
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) : X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    if (ok != 1) return fail("cannot check the certificate against " + host);
  }
  SSL_set_connect_state(ssl.get());
  ssl_ = std::move(ssl);
  tls_in_ = in;
  tls_out_ = out;
  while (true) {
    int rc = SSL_do_handshake(ssl_.get());
    if (auto s = flush_tls(); !s) return s;
    if (rc == 1) return {};
    int error = SSL_get_error(ssl_.get(), rc);
    if (error == SSL_ERROR_WANT_READ) {
      if (auto s = fill_tls(); !s) return fail("TLS handshake: " + s.error());
      continue;
    }
    long verdict = SSL_get_verify_result(ssl_.get());
    if (verify && verdict != X509_V_OK)
      return fail(std::string("TLS: the server's certificate was refused: ") + X509_verify_cert_error_string(verdict));
    return fail("TLS handshake failed: " + openssl_error());
  }
}

Status SmtpConnection::write(std::string_view bytes) {
  if (!ssl_) return send_all(bytes.data(), bytes.size());
  while (!bytes.empty()) {
    // Memory BIOs take everything: SSL_write only fails for a broken session.
    int n = SSL_write(ssl_.get(), bytes.data(), static_cast<int>(std::min<size_t>(bytes.size(), 1 << 20)));
    if (n <= 0) return fail("TLS write failed: " + openssl_error());
    bytes.remove_prefix(static_cast<size_t>(n));
    if (auto s = flush_tls(); !s) return s;
  }
  return {};
}

Status SmtpConnection::read_some(std::string& out) {
  char buffer[16384];
  if (!ssl_) {
    auto n = receive(buffer, sizeof buffer);
    if (!n) return std::unexpected(n.error());
    out.append(buffer, *n);
    return {};
  }
  while (true) {
    int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
    if (n > 0) {
      out.append(buffer, static_cast<size_t>(n));
      return {};
    }
    int error = SSL_get_error(ssl_.get(), n);
    if (error == SSL_ERROR_WANT_READ) {
      // TLS 1.3 may have something to say first (a key update answer).
      if (auto s = flush_tls(); !s) return s;
      if (auto s = fill_tls(); !s) return s;
      continue;
    }
    if (error == SSL_ERROR_ZERO_RETURN) return fail("the server closed the TLS session");
    return fail("TLS read failed: " + openssl_error());
  }
}

bool SmtpConnection::stale() const {
  if (ssl_ && SSL_pending(ssl_.get()) > 0) return true;
  pollfd p{fd_, POLLIN, 0};
  return ::poll(&p, 1, 0) != 0;  // readable (data or end of stream), or an error
}

}  // namespace campaignd::transport
