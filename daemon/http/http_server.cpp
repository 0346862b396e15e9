#include "daemon/http/http_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"
#include "daemon/util/thread_name.hpp"

namespace campaignd::http {

namespace {

void send(const HttpResponse& from, httplib::Response& to) {
  to.status = from.status;
  for (const auto& [k, v] : from.headers) to.set_header(k, v);
  to.set_content(from.body, from.content_type);
}

HttpRequest convert(const httplib::Request& req) {
  HttpRequest out;
  out.method = req.method;
  out.path = req.path;
  for (size_t i = 1; i < req.matches.size(); ++i) out.captures.push_back(req.matches[i]);
  for (const auto& [k, v] : req.params) out.query.emplace(k, v);
  for (const auto& [k, v] : req.headers) {
    auto key = util::to_lower(k);
    auto [it, inserted] = out.headers.emplace(key, v);
    if (!inserted) it->second += ", " + v;
  }
  out.body = req.body;
  for (const auto& [name, file] : req.files) out.form.emplace(name, file.content);
  if (util::to_lower(req.get_header_value("Content-Type")).starts_with("application/x-www-form-urlencoded")) {
    httplib::Params fields;
    httplib::detail::parse_query_text(req.body, fields);
    for (const auto& [k, v] : fields) out.form.emplace(k, v);
  }
  out.remote_addr = req.remote_addr;
  return out;
}

// Lowers the calling pool thread's priority once (Linux: niceness is per thread).
void lower_thread_priority(int nice) {
  thread_local bool done = false;
  if (done || nice <= 0) return;
  done = true;
  pid_t tid = static_cast<pid_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(nice, 19)) != 0) {
    static std::atomic<bool> warned{false};
    if (!warned.exchange(true)) spdlog::warn("http: cannot lower the worker threads' priority: {}", std::strerror(errno));
  }
}

HttpResponse redirect(const std::string& location) {
  HttpResponse r{303, "text/plain; charset=utf-8", "", {{"Location", location}, {"Cache-Control", "no-store"}}};
  return r;
}

// Pages of the login flow: no scripts, no framing, no referrer (a login link must not leak).
HttpResponse page(int status, std::string html) {
  auto r = HttpResponse::html(status, std::move(html));
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  return r;
}

std::string login_form(std::string_view message) {
  std::string html = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>campaignd: log in</title></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 26em; margin: 4em auto; padding: 0 1em; color: #222;">
<h1 style="font-size: 1.4em;">campaignd status</h1>
)";
  if (!message.empty()) html += R"(<p style="color: #991b1b;">)" + std::string(message) + "</p>\n";
  html += R"(<form method="post" action="/login">
<p><label>Admin token<br><input type="password" name="token" autocomplete="current-password" required autofocus style="width: 100%; font-size: 1em; padding: .3em;"></label></p>
<p><button type="submit" style="font-size: 1em; padding: .4em 1.2em;">Log in</button></p>
</form>
</body></html>
)";
  return html;
}

}  // namespace

HttpServer::HttpServer(HttpSettings settings)
    : settings_(std::move(settings)),
      sessions_(settings_.admin_token, clock_),
      public_gate_(settings_.max_public_handlers),
      server_(std::make_unique<httplib::Server>()) {
  auto& s = *server_;
  s.set_payload_max_length(settings_.max_body_bytes);
  s.set_tcp_nodelay(true);
  // A kept-alive connection holds its thread: after 20 requests or 2 idle seconds it is closed,
  // so queued connections get their turn (clients reconnect; email clients rarely reuse anyway).
  s.set_keep_alive_max_count(20);
  s.set_keep_alive_timeout(2);
  s.set_read_timeout(30, 0);
  s.set_write_timeout(30, 0);
  int threads = settings_.threads;
  // httplib's API takes ownership of a raw pointer here; the pool bounds concurrent requests.
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 413) send(HttpResponse::error(413, "request body too large"), res);
    else if (res.status == 404) send(HttpResponse::error(404, "not found"), res);
    else if (res.status >= 400) send(HttpResponse::error(res.status, "bad request"), res);
  });
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    // A login link's path is a credential until it is spent: never logged.
    spdlog::error("http: {} {} failed: {}", req.method, req.path.starts_with("/login/") ? "/login/..." : req.path, what);
    send(HttpResponse::error(500, "internal error"), res);
  });
}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::authorized(const std::string& header) const {
  static constexpr std::string_view kPrefix = "Bearer ";
  if (settings_.admin_token.empty() || !header.starts_with(kPrefix)) return false;
  return util::constant_time_equals(std::string_view(header).substr(kPrefix.size()), settings_.admin_token);
}

void HttpServer::route(const std::string& method, const std::string& pattern, Access access, Handler handler) {
  // Cookies ride along on every request a browser makes: only reads may accept them.
  if (access == Access::admin_page && method != "GET")
    throw std::invalid_argument("Access::admin_page is for GET routes only: " + pattern);
  auto wrapped = [this, access, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    lower_thread_priority(settings_.worker_nice);
    if (access != Access::anyone) {
      const std::string& authorization = req.get_header_value("Authorization");
      bool ok = authorized(authorization);
      if (!ok && access == Access::admin_page && authorization.empty())
        ok = sessions_.session_valid(AdminSessions::cookie_value(req.get_header_value("Cookie")));
      if (!ok && access == Access::admin_page && authorization.empty()) return send(redirect("/login"), res);
      if (!ok) {
        auto r = HttpResponse::error(401, "missing or wrong bearer token");
        r.headers.emplace_back("WWW-Authenticate", "Bearer");
        return send(r, res);
      }
    }
    if (access == Access::anyone) {
      public_gate_.enter();
      struct Leave {
        Gate& gate;
        ~Leave() { gate.leave(); }
      } leave{public_gate_};
      return send(handler(convert(req)), res);
    }
    send(handler(convert(req)), res);
  };
  if (method == "GET") server_->Get(pattern, wrapped);
  else if (method == "POST") server_->Post(pattern, wrapped);
  else if (method == "PUT") server_->Put(pattern, wrapped);
  else if (method == "DELETE") server_->Delete(pattern, wrapped);
  else throw std::invalid_argument("unsupported method " + method);
}

void HttpServer::set_public_handler_limit(int limit) { public_gate_.set_limit(limit); }

void HttpServer::Gate::set_limit(int limit) {
  {
    std::lock_guard lock(mutex_);
    if (limit_ == limit) return;
    limit_ = limit;
  }
  turn_.notify_all();
}

void HttpServer::Gate::enter() {
  std::unique_lock lock(mutex_);
  turn_.wait(lock, [this] { return limit_ <= 0 || running_ < limit_; });
  ++running_;
}

void HttpServer::Gate::leave() {
  {
    std::lock_guard lock(mutex_);
    --running_;
  }
  turn_.notify_one();
}

void HttpServer::add_login_routes() {
  route("GET", "/login", Access::anyone, [this](const HttpRequest& r) {
    if (sessions_.session_valid(AdminSessions::cookie_value(r.header("cookie")))) return redirect("/");
    return page(200, login_form(sessions_.enabled() ? "" : "No admin token is configured: nobody can log in."));
  });
  route("POST", "/login", Access::anyone, [this](const HttpRequest& r) {
    if (!sessions_.attempts_allowed()) {
      auto res = page(429, login_form("Too many failed attempts. Wait a minute and try again."));
      res.headers.emplace_back("Retry-After", "60");
      return res;
    }
    if (!sessions_.token_matches(r.form_value("token"))) {
      sessions_.record_failure();
      spdlog::warn("http: failed admin login from {}", r.remote_addr);
      return page(401, login_form("That is not the admin token."));
    }
    spdlog::info("http: admin logged in from {}", r.remote_addr);
    auto res = redirect("/");
    res.headers.emplace_back("Set-Cookie", sessions_.set_cookie(settings_.secure_cookies));
    return res;
  });
  route("GET", "/login/([A-Za-z0-9_-]{1,100})", Access::anyone, [this](const HttpRequest& r) {
    if (!sessions_.redeem_login_code(r.captures[0]))
      return page(404, login_form("This login link is not valid: it was used already or it expired."));
    spdlog::info("http: admin logged in with a login link from {}", r.remote_addr);
    auto res = redirect("/");
    res.headers.emplace_back("Set-Cookie", sessions_.set_cookie(settings_.secure_cookies));
    res.headers.emplace_back("Referrer-Policy", "no-referrer");
    return res;
  });
  route("POST", "/logout", Access::anyone, [this](const HttpRequest&) {
    auto res = redirect("/login");
    res.headers.emplace_back("Set-Cookie", AdminSessions::clear_cookie(settings_.secure_cookies));
    return res;
  });
  route("POST", "/api/login-link", Access::admin, [this](const HttpRequest&) {
    return HttpResponse::json(200, {{"path", "/login/" + sessions_.new_login_code()},
                                    {"expires_in", AdminSessions::kLoginLinkSeconds}});
  });
}

Status HttpServer::start() {
  auto colon = settings_.listen.rfind(':');
  if (colon == std::string::npos) return fail("http.listen must be host:port, got '" + settings_.listen + "'");
  std::string host = settings_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  long long port = 0;
  if (!util::parse_int(settings_.listen.substr(colon + 1), port) || port < 0 || port > 65535)
    return fail("http.listen: bad port in '" + settings_.listen + "'");
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ < 0) return fail("cannot listen on " + settings_.listen);
  } else {
    if (!server_->bind_to_port(host, static_cast<int>(port))) return fail("cannot listen on " + settings_.listen);
    port_ = static_cast<int>(port);
  }
  thread_ = std::thread([this] {
    util::name_this_thread("http");  // the pool's threads, made by this one, take its name
    server_->listen_after_bind();
  });
  spdlog::info("http: listening on {}:{}", host, port_);
  return {};
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace campaignd::http
