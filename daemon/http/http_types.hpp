// Our own request/response types, so handlers in other folders never see cpp-httplib.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace campaignd::http {

struct HttpRequest {
  std::string method;
  std::string path;
  std::vector<std::string> captures;              // regex groups of the route pattern, in order
  std::multimap<std::string, std::string> query;  // decoded query parameters
  std::map<std::string, std::string> headers;     // keys lower-cased; repeated headers joined by ", "
  std::string body;
  std::string remote_addr;
  // Fields of a multipart/form-data or application/x-www-form-urlencoded body, by name.
  std::multimap<std::string, std::string> form;

  std::string header(const std::string& lower_case_name) const {
    auto it = headers.find(lower_case_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string form_value(const std::string& name) const {
    auto it = form.find(name);
    return it == form.end() ? std::string() : it->second;
  }
  std::string query_value(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static HttpResponse text(int status, std::string body) {
    return {status, "text/plain; charset=utf-8", std::move(body), {}};
  }
  static HttpResponse html(int status, std::string body) {
    return {status, "text/html; charset=utf-8", std::move(body), {{"Cache-Control", "no-store"}}};
  }
  static HttpResponse json(int status, const nlohmann::json& body) {
    return {status, "application/json", body.dump(), {}};
  }
  // A 4xx/5xx with a JSON reason: {"error": "..."}.
  static HttpResponse error(int status, const std::string& reason) {
    return json(status, nlohmann::json{{"error", reason}});
  }
};

using Handler = std::function<HttpResponse(const HttpRequest&)>;

// anyone: no check. admin: `Authorization: Bearer <admin token>`, else 401.
// admin_page (GET only): the bearer token or a browser session cookie (see admin_session.hpp);
// a request with neither is redirected (303) to /login, one with a wrong bearer token gets 401.
enum class Access { anyone, admin, admin_page };

}  // namespace campaignd::http
