// The daemon's HTTP face on cpp-httplib: routes registered by the app with our own request and
// response types, admin bearer-token checks (constant time), browser sessions for the admin
// pages (add_login_routes), a body size limit (413), and a bounded thread pool. start() returns
// once the socket is listening.
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http/admin_session.hpp"
#include "daemon/http/http_types.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace httplib {
class Server;
}

namespace campaignd::http {

struct HttpSettings {
  std::string listen = "127.0.0.1:8025";  // host:port; port 0 picks one
  std::string admin_token;                // empty = admin routes refuse everyone
  // cpp-httplib gives each connection a pool thread for as long as it is kept alive; connections
  // beyond `threads` wait in a queue. Sized, with the keep-alive limits in http_server.cpp, so
  // 200 concurrent clients get answers within a second (tests/load/tracking_under_send.py).
  int threads = 64;
  size_t max_body_bytes = 1 << 20;
  bool secure_cookies = false;            // mark the admin session cookie Secure (public_url is https)
  // Scheduling niceness of the pool threads (0 = unchanged, up to 19): above 0, a flood of
  // tracking hits takes only the CPU that sending leaves (tests/load/tracking_under_send.py).
  // Uses setpriority(2) per thread: a seccomp filter must allow it (systemd: @resources), and a
  // refusal with EPERM is logged once and otherwise ignored.
  int worker_nice = 0;
  // At most this many handlers of Access::anyone routes (tracking, unsubscribe, webhooks,
  // subscribe) run at once, the others waiting their turn; 0 = no limit. Changed at run time by
  // set_public_handler_limit: the daemon sets a small limit while it sends (see there).
  int max_public_handlers = 0;
};

class HttpServer {
 public:
  explicit HttpServer(HttpSettings settings);
  ~HttpServer();

  // Before start(). `pattern` is a regex over the path; its groups become HttpRequest::captures.
  // Handlers run on the pool's threads, several at once; an exception becomes a JSON 500.
  void route(const std::string& method, const std::string& pattern, Access access, Handler handler);
  // Before start(): the browser login of the admin pages (Access::admin_page).
  //   GET  /login          a form asking for the admin token
  //   POST /login          field `token`; right: session cookie + 303 to /; wrong: 401 (429 when braked)
  //   GET  /login/{code}   a one-time login link: session cookie + 303 to /; spent or unknown: 404
  //   POST /logout         removes the cookie, 303 to /login
  //   POST /api/login-link admin (bearer): {"path": "/login/{code}", "expires_in": 60}
  // No token or session value is ever logged.
  void add_login_routes();
  // Thread-safe, at any time: the max_public_handlers limit from now on (0 = none). Every public
  // hit is a job for the one SQLite writer, which also records each send's outcome before that
  // worker takes its next message; while a campaign sends, a small limit (2) keeps a flood of
  // opens from starving sending (tests/load/tracking_under_send.py), and when nothing sends,
  // no limit lets the writer's group commit take all the hits it can.
  void set_public_handler_limit(int limit);
  // Binds and starts serving in the background; an error if the address can't be bound.
  Status start();
  void stop();
  int port() const { return port_; }

 private:
  bool authorized(const std::string& authorization_header) const;

  HttpSettings settings_;
  util::SystemClock clock_;
  AdminSessions sessions_;
  // The public handler limit: limit 0 = none; `running` counts handlers between enter and leave.
  class Gate {
   public:
    explicit Gate(int limit) : limit_(limit) {}
    void set_limit(int limit);
    void enter();
    void leave();

   private:
    std::mutex mutex_;
    std::condition_variable turn_;
    int limit_;        // guarded by mutex_
    int running_ = 0;  // guarded by mutex_
  };
  Gate public_gate_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace campaignd::http
