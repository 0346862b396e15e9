// The daemon's HTTP face (cpp-httplib): health, admin status and metrics, and the recipient
// routes. Handlers only parse and answer; the work is behind the interfaces below.
// Runs on its own bounded thread pool; start() returns once the socket is listening.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "daemon/util/result.hpp"

namespace httplib {
class Server;
}

namespace campaignd::http {

// What the admin routes report; implemented by the daemon.
class StatusSource {
 public:
  virtual ~StatusSource() = default;
  virtual bool healthy() = 0;
  virtual nlohmann::json status() = 0;
  virtual std::string metrics() = 0;  // Prometheus text exposition format
};

// Recipient actions; implemented over the store. Each returns false for an unknown token.
class RecipientActions {
 public:
  virtual ~RecipientActions() = default;
  // The page shown on GET /u/{token}; nullopt for a bad token.
  virtual std::optional<std::string> unsubscribe_page(const std::string& token) = 0;
  // RFC 8058 one-click (and the page's form): durable before it returns true.
  virtual bool unsubscribe(const std::string& token, const std::string& source) = 0;
};

struct HttpSettings {
  std::string listen = "127.0.0.1:8025";  // host:port; port 0 picks one
  std::string admin_token;                // empty = admin routes refuse everyone
  int threads = 8;
  size_t max_body_bytes = 1 << 20;
};

class HttpServer {
 public:
  HttpServer(HttpSettings settings, StatusSource& status, RecipientActions& recipients);
  ~HttpServer();
  // Binds and starts serving in the background; an error if the address can't be bound.
  Status start();
  void stop();
  int port() const { return port_; }

 private:
  void install_routes();
  bool authorized(const std::string& authorization_header) const;

  HttpSettings settings_;
  StatusSource& status_;
  RecipientActions& recipients_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace campaignd::http
