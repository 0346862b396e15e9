// maildir://PATH: the embedded default transport. Each message becomes one file in PATH/new,
// written the Maildir way (tmp/, fsync, rename, fsync the directory) so a crash never leaves
// half a message where a reader would pick it up.
#pragma once

#include <filesystem>
#include <memory>

#include "daemon/transport/transport.hpp"

namespace campaignd::transport {

class MaildirTransport final : public Transport {
 public:
  // Accepts maildir://relative/path, maildir://./path and maildir:///absolute/path; creates
  // PATH/{tmp,new,cur}. Relative paths resolve against options.base_dir.
  static Result<std::unique_ptr<Transport>> create(const TransportOptions& options);

  explicit MaildirTransport(std::filesystem::path directory) : directory_(std::move(directory)) {}

  Result<std::unique_ptr<Session>> open_session() override;
  std::string describe() const override { return "maildir://" + directory_.string(); }
  const std::filesystem::path& directory() const { return directory_; }

 private:
  std::filesystem::path directory_;
};

// The path part of a maildir url, resolved against base_dir; the error names the url.
Result<std::filesystem::path> parse_maildir_url(std::string_view url, const std::string& base_dir);

// A name no other delivery (in this process or another on this host) can produce:
// "<seconds>.M<microseconds>P<pid>Q<counter>.<hostname>", the form Dovecot and Courier use.
std::string unique_maildir_name();

}  // namespace campaignd::transport
