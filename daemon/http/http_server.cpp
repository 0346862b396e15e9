#include "daemon/http/http_server.hpp"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

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

}  // namespace

HttpServer::HttpServer(HttpSettings settings)
    : settings_(std::move(settings)), server_(std::make_unique<httplib::Server>()) {
  auto& s = *server_;
  s.set_payload_max_length(settings_.max_body_bytes);
  s.set_tcp_nodelay(true);
  s.set_keep_alive_max_count(1000);
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
    spdlog::error("http: {} {} failed: {}", req.method, req.path, what);
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
  auto wrapped = [this, access, handler = std::move(handler)](const httplib::Request& req, httplib::Response& res) {
    if (access == Access::admin && !authorized(req.get_header_value("Authorization"))) {
      auto r = HttpResponse::error(401, "missing or wrong bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return send(r, res);
    }
    send(handler(convert(req)), res);
  };
  if (method == "GET") server_->Get(pattern, wrapped);
  else if (method == "POST") server_->Post(pattern, wrapped);
  else if (method == "PUT") server_->Put(pattern, wrapped);
  else if (method == "DELETE") server_->Delete(pattern, wrapped);
  else throw std::invalid_argument("unsupported method " + method);
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
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("http: listening on {}:{}", host, port_);
  return {};
}

void HttpServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace campaignd::http
