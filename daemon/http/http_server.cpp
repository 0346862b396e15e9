#include "daemon/http/http_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "daemon/util/crypto.hpp"

namespace campaignd::http {

namespace {

void json_error(httplib::Response& res, int status, const std::string& reason) {
  res.status = status;
  res.set_content(nlohmann::json{{"error", reason}}.dump(), "application/json");
}

}  // namespace

HttpServer::HttpServer(HttpSettings settings, StatusSource& status, RecipientActions& recipients)
    : settings_(std::move(settings)), status_(status), recipients_(recipients),
      server_(std::make_unique<httplib::Server>()) {}

HttpServer::~HttpServer() { stop(); }

bool HttpServer::authorized(const std::string& header) const {
  static constexpr std::string_view kPrefix = "Bearer ";
  if (settings_.admin_token.empty() || !header.starts_with(kPrefix)) return false;
  return util::constant_time_equals(std::string_view(header).substr(kPrefix.size()), settings_.admin_token);
}

void HttpServer::install_routes() {
  auto& s = *server_;
  s.set_payload_max_length(settings_.max_body_bytes);
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(1000);
  int threads = settings_.threads;
  // httplib's API takes ownership of a raw pointer here; the pool bounds concurrent requests.
  s.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };

  s.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    bool ok = status_.healthy();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ok\n" : "unhealthy\n", "text/plain");
  });
  auto admin = [this](auto handler) {
    return [this, handler](const httplib::Request& req, httplib::Response& res) {
      if (!authorized(req.get_header_value("Authorization"))) {
        res.set_header("WWW-Authenticate", "Bearer");
        return json_error(res, 401, "missing or wrong bearer token");
      }
      handler(req, res);
    };
  };
  s.Get("/status", admin([this](const httplib::Request&, httplib::Response& res) {
          res.set_content(status_.status().dump(), "application/json");
        }));
  s.Get("/metrics", admin([this](const httplib::Request&, httplib::Response& res) {
          res.set_content(status_.metrics(), "text/plain; version=0.0.4");
        }));
  s.Get(R"(/u/([A-Za-z0-9_.\-]+))", [this](const httplib::Request& req, httplib::Response& res) {
    // Never unsubscribe on GET: mail scanners fetch every link.
    auto page = recipients_.unsubscribe_page(req.matches[1]);
    if (!page) {
      res.status = 404;
      res.set_content("Not found\n", "text/plain");
      return;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content(*page, "text/html; charset=utf-8");
  });
  s.Post(R"(/u/([A-Za-z0-9_.\-]+))", [this](const httplib::Request& req, httplib::Response& res) {
    bool one_click = req.body.find("List-Unsubscribe=One-Click") != std::string::npos;
    if (!recipients_.unsubscribe(req.matches[1], one_click ? "one-click" : "page")) {
      res.status = 404;
      res.set_content("Not found\n", "text/plain");
      return;
    }
    res.set_header("Cache-Control", "no-store");
    res.set_content("<!doctype html><meta charset=utf-8><title>Unsubscribed</title>"
                    "<p>You are unsubscribed and will receive no more of these emails.</p>\n",
                    "text/html; charset=utf-8");
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      if (res.status == 413) json_error(res, 413, "request body too large");
      else if (res.status == 404) json_error(res, 404, "no such route");
    }
  });
  s.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "unknown";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    spdlog::error("http: {} {} failed: {}", req.method, req.path, what);
    json_error(res, 500, "internal error");
  });
}

Status HttpServer::start() {
  install_routes();
  auto colon = settings_.listen.rfind(':');
  if (colon == std::string::npos) return fail("http.listen must be host:port, got '" + settings_.listen + "'");
  std::string host = settings_.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  try {
    port = std::stoi(settings_.listen.substr(colon + 1));
  } catch (...) {
    return fail("http.listen: bad port in '" + settings_.listen + "'");
  }
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ < 0) return fail("cannot listen on " + settings_.listen);
  } else {
    if (!server_->bind_to_port(host, port)) return fail("cannot listen on " + settings_.listen);
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("http: listening on {}:{}", host, port_);
  return {};
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace campaignd::http
