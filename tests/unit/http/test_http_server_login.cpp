// http/http_server: Access::admin_page, the login routes, the bound on public handlers and the
// workers' priority, over a real loopback socket.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <map>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "daemon/http/http_server.hpp"

using namespace campaignd;

namespace {

struct Reply {
  int status = 0;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One HTTP/1.1 request with Connection: close, read to the end.
Reply request(int port, const std::string& method, const std::string& path, const std::string& extra_headers = "",
              const std::string& body = "") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + extra_headers +
                    "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string raw;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) raw.append(buf, static_cast<size_t>(n));
  ::close(fd);
  Reply r;
  auto head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  r.body = raw.substr(head_end + 4);
  std::string head = raw.substr(0, head_end);
  r.status = std::stoi(head.substr(9, 3));
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    std::size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
    auto colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers.emplace(name, value);
    }
    pos = next;
  }
  return r;
}

std::string cookie_from(const Reply& r) {
  std::string set = r.header("set-cookie");
  return set.substr(0, set.find(';'));
}

struct Server {
  http::HttpServer server{http::HttpSettings{"127.0.0.1:0", "right-token", 4}};
  Server() {
    server.route("GET", "/", http::Access::admin_page,
                 [](const http::HttpRequest&) { return http::HttpResponse::text(200, "the page\n"); });
    server.route("GET", "/api", http::Access::admin,
                 [](const http::HttpRequest&) { return http::HttpResponse::text(200, "api\n"); });
    server.add_login_routes();
    REQUIRE(server.start());
  }
  int port() const { return server.port(); }
};

}  // namespace

TEST_CASE("admin_page: bearer works, nothing redirects to /login, a wrong bearer is 401") {
  Server s;
  CHECK(request(s.port(), "GET", "/", "Authorization: Bearer right-token\r\n").body == "the page\n");
  auto none = request(s.port(), "GET", "/");
  CHECK(none.status == 303);
  CHECK(none.header("location") == "/login");
  CHECK(request(s.port(), "GET", "/", "Authorization: Bearer wrong\r\n").status == 401);
  CHECK(request(s.port(), "GET", "/", "Cookie: campaignd_admin=v1.9999999999.x.y\r\n").status == 303);
  // Plain admin routes ignore cookies altogether.
  CHECK(request(s.port(), "GET", "/api").status == 401);
}

TEST_CASE("POST /login with the token sets an HttpOnly SameSite=Strict cookie that opens the page") {
  Server s;
  auto form = request(s.port(), "GET", "/login");
  CHECK(form.status == 200);
  CHECK(form.body.find("name=\"token\"") != std::string::npos);
  CHECK(form.header("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);

  auto wrong = request(s.port(), "POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", "token=nope");
  CHECK(wrong.status == 401);
  CHECK(wrong.header("set-cookie") == "");

  auto ok = request(s.port(), "POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n",
                    "token=right-token");
  CHECK(ok.status == 303);
  CHECK(ok.header("location") == "/");
  std::string set = ok.header("set-cookie");
  CHECK(set.find("HttpOnly") != std::string::npos);
  CHECK(set.find("SameSite=Strict") != std::string::npos);
  CHECK(set.find("right-token") == std::string::npos);
  std::string cookie = cookie_from(ok);
  auto page = request(s.port(), "GET", "/", "Cookie: " + cookie + "\r\n");
  CHECK(page.status == 200);
  CHECK(page.body == "the page\n");
  CHECK(request(s.port(), "GET", "/api", "Cookie: " + cookie + "\r\n").status == 401);
  CHECK(request(s.port(), "GET", "/login", "Cookie: " + cookie + "\r\n").status == 303);  // already in

  auto out = request(s.port(), "POST", "/logout", "Cookie: " + cookie + "\r\n");
  CHECK(out.status == 303);
  CHECK(out.header("set-cookie").find("Max-Age=0") != std::string::npos);
}

TEST_CASE("a login link from POST /api/login-link works once") {
  Server s;
  CHECK(request(s.port(), "POST", "/api/login-link").status == 401);
  auto minted = request(s.port(), "POST", "/api/login-link", "Authorization: Bearer right-token\r\n");
  REQUIRE(minted.status == 200);
  std::smatch m;
  REQUIRE(std::regex_search(minted.body, m, std::regex(R"re("path":"(/login/[A-Za-z0-9_-]+)")re")));
  std::string path = m[1];
  auto first = request(s.port(), "GET", path);
  CHECK(first.status == 303);
  CHECK(first.header("location") == "/");
  CHECK(first.header("referrer-policy") == "no-referrer");
  CHECK(request(s.port(), "GET", "/", "Cookie: " + cookie_from(first) + "\r\n").status == 200);
  CHECK(request(s.port(), "GET", path).status == 404);
  CHECK(request(s.port(), "GET", "/login/forged-code").status == 404);
}

TEST_CASE("admin_page refuses anything but GET") {
  http::HttpServer server{http::HttpSettings{"127.0.0.1:0", "t", 2}};
  CHECK_THROWS_AS(server.route("POST", "/x", http::Access::admin_page,
                               [](const http::HttpRequest&) { return http::HttpResponse::text(200, ""); }),
                  std::invalid_argument);
}

TEST_CASE("max_public_handlers bounds the public handlers running at once; admin routes are not bounded") {
  http::HttpSettings settings{"127.0.0.1:0", "t", 8};
  settings.max_public_handlers = 1;
  http::HttpServer server{settings};
  std::atomic<int> running{0}, most{0};
  auto slow = [&](const http::HttpRequest&) {
    int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    --running;
    return http::HttpResponse::text(200, "ok\n");
  };
  server.route("GET", "/public", http::Access::anyone, slow);
  server.route("GET", "/admin", http::Access::admin, slow);
  REQUIRE(server.start());
  int port = server.port();
  auto burst = [&](const std::string& path, const std::string& headers) {
    most = 0;
    std::vector<std::thread> clients;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i)
      clients.emplace_back([&] { ok += request(port, "GET", path, headers).status == 200; });
    for (auto& c : clients) c.join();
    CHECK(ok == 4);
    return most.load();
  };
  CHECK(burst("/public", "") == 1);
  CHECK(burst("/admin", "Authorization: Bearer t\r\n") > 1);
  server.set_public_handler_limit(0);  // no limit
  CHECK(burst("/public", "") > 1);
  server.set_public_handler_limit(2);
  CHECK(burst("/public", "") == 2);
}

TEST_CASE("worker_nice lowers the priority of the threads that run handlers") {
  http::HttpSettings settings{"127.0.0.1:0", "t", 2};
  settings.worker_nice = 7;
  http::HttpServer server{settings};
  server.route("GET", "/nice", http::Access::anyone, [](const http::HttpRequest&) {
    errno = 0;
    int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
    return http::HttpResponse::text(200, std::to_string(nice));
  });
  REQUIRE(server.start());
  CHECK(request(server.port(), "GET", "/nice").body == "7");
  CHECK(::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))) == 0);  // not this thread
}
