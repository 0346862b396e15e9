// The daemon's HTTP face on cpp-httplib: routes registered by the app with our own request and
// response types, admin bearer-token checks (constant time), a body size limit (413), and a
// bounded thread pool. start() returns once the socket is listening.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http/http_types.hpp"
#include "daemon/util/result.hpp"

namespace httplib {
class Server;
}

namespace campaignd::http {

struct HttpSettings {
  std::string listen = "127.0.0.1:8025";  // host:port; port 0 picks one
  std::string admin_token;                // empty = admin routes refuse everyone
  int threads = 16;
  size_t max_body_bytes = 1 << 20;
};

class HttpServer {
 public:
  explicit HttpServer(HttpSettings settings);
  ~HttpServer();

  // Before start(). `pattern` is a regex over the path; its groups become HttpRequest::captures.
  // Handlers run on the pool's threads, several at once; an exception becomes a JSON 500.
  void route(const std::string& method, const std::string& pattern, Access access, Handler handler);
  // Binds and starts serving in the background; an error if the address can't be bound.
  Status start();
  void stop();
  int port() const { return port_; }

 private:
  bool authorized(const std::string& authorization_header) const;

  HttpSettings settings_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace campaignd::http
