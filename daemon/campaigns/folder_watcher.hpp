// Tells the main loop when anything changed in the watched folders (campaigns, templates,
// rules): inotify where the kernel offers it, otherwise a poll of names, sizes and mtimes.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace campaignd::campaigns {

class FolderWatcher {
 public:
  explicit FolderWatcher(std::vector<std::string> folders);
  ~FolderWatcher();
  FolderWatcher(const FolderWatcher&) = delete;
  FolderWatcher& operator=(const FolderWatcher&) = delete;

  // Waits up to `timeout` for a change; true if something changed. Settles bursts of events
  // (an editor's save, a copy in several writes) into one answer.
  bool wait(std::chrono::milliseconds timeout);
  bool using_inotify() const { return inotify_fd_ >= 0; }

 private:
  using Snapshot = std::map<std::string, std::pair<long long, long long>>;  // path -> (size, mtime ns)
  Snapshot snapshot() const;
  bool drain_events(int timeout_ms);

  std::vector<std::string> folders_;
  int inotify_fd_ = -1;
  Snapshot last_;
  std::chrono::steady_clock::time_point last_poll_;
};

}  // namespace campaignd::campaigns
