// Test fixtures for the transport tests: a temporary directory, and the real SMTP test
// server (tests/support/smtp_server.py) run as a child process.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace campaignd::transport::testing {

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class TempDir {
 public:
  explicit TempDir(std::string parent = "/tmp") {
    std::string pattern = parent + "/campaignd-transport-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string source_dir() {
#ifdef CAMPAIGND_SOURCE_DIR
  return CAMPAIGND_SOURCE_DIR;
#else
  std::string here = __FILE__;
  return here.substr(0, here.rfind("/tests/"));
#endif
}

// Starts smtp_server.py on a free port with the given --fault rules; SIGTERM and reaps it on
// destruction. Throws if the server does not announce its port within 10 s.
class SmtpTestServer {
 public:
  // `options`: smtp_server.py's other flags (--pipelining, --tls CERT,KEY, --auth USER:PASS, ...).
  explicit SmtpTestServer(const std::vector<std::string>& faults = {}, const std::vector<std::string>& options = {}) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> args = {"/usr/bin/python3", source_dir() + "/tests/support/smtp_server.py",
                                     "--port", "0", "--out", out_.path().string()};
    for (const auto& fault : faults) {
      args.push_back("--fault");
      args.push_back(fault);
    }
    args.insert(args.end(), options.begin(), options.end());
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
    int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    if (rc != 0) {
      ::close(pipe_fds[0]);
      throw std::runtime_error("cannot start smtp_server.py");
    }
    std::string line = read_line(pipe_fds[0]);
    ::close(pipe_fds[0]);
    if (line.rfind("PORT ", 0) != 0) {
      stop();
      throw std::runtime_error("smtp_server.py did not announce its port: '" + line + "'");
    }
    port_ = std::stoi(line.substr(5));
  }
  SmtpTestServer(const SmtpTestServer&) = delete;
  SmtpTestServer& operator=(const SmtpTestServer&) = delete;
  ~SmtpTestServer() { stop(); }

  int port() const { return port_; }
  std::string url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }
  const std::filesystem::path& out_dir() const { return out_.path(); }
  nlohmann::json stats() const { return nlohmann::json::parse(read_file(out_.path() / "stats.json")); }
  std::vector<nlohmann::json> log() const {
    std::vector<nlohmann::json> entries;
    std::ifstream in(out_.path() / "log.jsonl");
    for (std::string line; std::getline(in, line);) entries.push_back(nlohmann::json::parse(line));
    return entries;
  }
  int accepted(const std::string& rcpt) const { return stats()["accepted"].value(rcpt, 0); }
  int connections() const { return stats()["connections"].get<int>(); }

 private:
  static std::string read_line(int fd) {
    std::string line;
    char c;
    while (true) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
      if (::read(fd, &c, 1) != 1 || c == '\n') break;
      line += c;
    }
    return line;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  TempDir out_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// A port nothing listens on: bound, then released.
inline int closed_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace campaignd::transport::testing
