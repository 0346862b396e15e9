// Maildir delivery: unique name in tmp/, write + fsync, rename into new/, fsync new/.
// Disk errors are reported as retry: a full or read-only disk may clear, and nothing half
// written is ever visible in new/.
#include "daemon/transport/maildir_transport.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <system_error>

#include "daemon/util/strings.hpp"

namespace campaignd::transport {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Url and names

Result<fs::path> parse_maildir_url(std::string_view url, const std::string& base_dir) {
  constexpr std::string_view prefix = "maildir://";
  auto quoted = "maildir url '" + redact_url(url) + "'";
  if (url.size() < prefix.size() || !util::iequals(url.substr(0, prefix.size()), prefix))
    return fail(quoted + " does not start with maildir://");
  auto path = url.substr(prefix.size());
  if (path.empty()) return fail(quoted + " has no path (e.g. maildir://./var/outbox)");
  for (unsigned char c : path)
    if (c < 0x20 || c == 0x7f) return fail(quoted + " contains a control character");
  if (path.find_first_of("?#") != std::string_view::npos)
    return fail(quoted + " has a query or fragment; a maildir url is only a path");
  fs::path resolved(path);
  if (resolved.is_relative() && !base_dir.empty()) resolved = fs::path(base_dir) / resolved;
  return resolved.lexically_normal();
}

namespace {

std::string maildir_hostname() {
  char buffer[256] = {};
  if (gethostname(buffer, sizeof buffer - 1) != 0 || buffer[0] == '\0') return "localhost";
  // The Maildir spec's escapes: '/' would make a path and ':' starts the info part.
  std::string out;
  for (const char* p = buffer; *p; ++p) {
    if (*p == '/') out += "\\057";
    else if (*p == ':') out += "\\072";
    else out += *p;
  }
  return out;
}

std::string errno_text(int error) { return std::generic_category().message(error); }

// Owns a file descriptor.
class UniqueFd {
 public:
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { if (fd_ >= 0) ::close(fd_); }
  int get() const { return fd_; }
  // Closes now so the error (NFS, quota) can be seen; -1 with errno set on failure.
  int close() { int fd = fd_; fd_ = -1; return ::close(fd); }

 private:
  int fd_;
};

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    auto n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

SendResult disk_error(const std::string& what, const fs::path& path, int error) {
  return {Outcome::retry, 0, {}, what + " " + path.string() + ": " + errno_text(error)};
}

}  // namespace

std::string unique_maildir_name() {
  static std::atomic<unsigned long long> counter{0};
  static const std::string host = maildir_hostname();
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now).count();
  return std::to_string(micros / 1000000) + ".M" + std::to_string(micros % 1000000) + "P" +
         std::to_string(::getpid()) + "Q" + std::to_string(++counter) + "." + host;
}

// ---------------------------------------------------------------------------------------------
// Session

namespace {

class MaildirSession final : public Session {
 public:
  explicit MaildirSession(fs::path directory) : directory_(std::move(directory)) {}

  SendResult send(const Envelope& envelope, std::string_view message, const GoAhead& go_ahead) override {
    if (auto ok = check_envelope(envelope); !ok) return {Outcome::failed, 0, {}, ok.error()};

    auto name = unique_maildir_name();
    auto tmp_path = directory_ / "tmp" / name;
    auto new_path = directory_ / "new" / name;
    // What a delivering MDA prepends, so the file reads like delivered mail.
    auto trace = "Return-Path: <" + envelope.mail_from + ">\r\nDelivered-To: " + envelope.rcpt_to + "\r\n";

    {
      UniqueFd file(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
      if (file.get() < 0) return disk_error("cannot create", tmp_path, errno);
      if (!write_all(file.get(), trace) || !write_all(file.get(), message) || ::fsync(file.get()) != 0 ||
          file.close() != 0) {
        int error = errno;
        ::unlink(tmp_path.c_str());
        return disk_error("cannot write", tmp_path, error);
      }
    }
    // Nothing in tmp/ is delivered: the rename is the hand-over.
    if (go_ahead && !go_ahead().go) {
      ::unlink(tmp_path.c_str());
      return {Outcome::withheld, 0, {}, "withheld by the sender before the message went out"};
    }
    if (::rename(tmp_path.c_str(), new_path.c_str()) != 0) {
      int error = errno;
      ::unlink(tmp_path.c_str());
      return disk_error("cannot move into new/:", tmp_path, error);
    }
    // Without this the rename may not survive a crash; take the file back so a retry
    // cannot deliver it twice.
    auto new_dir = directory_ / "new";
    UniqueFd dir(::open(new_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir.get() < 0 || ::fsync(dir.get()) != 0) {
      int error = errno;
      ::unlink(new_path.c_str());
      return disk_error("cannot sync", new_dir, error);
    }
    return {Outcome::sent, 0, {}, "delivered to " + new_path.string()};
  }

 private:
  fs::path directory_;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Transport

Result<std::unique_ptr<Transport>> MaildirTransport::create(const TransportOptions& options) {
  auto directory = parse_maildir_url(options.url, options.base_dir);
  if (!directory) return std::unexpected(directory.error());
  for (const char* sub : {"tmp", "new", "cur"}) {
    std::error_code ec;
    fs::create_directories(*directory / sub, ec);
    if (ec) return fail("cannot create maildir " + (*directory / sub).string() + ": " + ec.message());
  }
  return std::make_unique<MaildirTransport>(std::move(*directory));
}

Result<std::unique_ptr<Session>> MaildirTransport::open_session() {
  return std::make_unique<MaildirSession>(directory_);
}

}  // namespace campaignd::transport
