#include "daemon/campaigns/folder_watcher.hpp"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>

namespace campaignd::campaigns {

namespace fs = std::filesystem;

FolderWatcher::FolderWatcher(std::vector<std::string> folders) : folders_(std::move(folders)) {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ >= 0) {
    for (const auto& f : folders_) {
      if (inotify_add_watch(inotify_fd_, f.c_str(),
                            IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_ATTRIB) < 0) {
        spdlog::warn("watcher: cannot watch {} with inotify; polling instead", f);
        close(inotify_fd_);
        inotify_fd_ = -1;
        break;
      }
    }
  }
  if (inotify_fd_ < 0) spdlog::info("watcher: polling {} folders every 2 s", folders_.size());
  last_ = snapshot();
  last_poll_ = std::chrono::steady_clock::now();
}

FolderWatcher::~FolderWatcher() {
  if (inotify_fd_ >= 0) close(inotify_fd_);
}

FolderWatcher::Snapshot FolderWatcher::snapshot() const {
  Snapshot s;
  for (const auto& folder : folders_) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec)) {
      std::error_code e2;
      auto size = entry.is_regular_file(e2) ? static_cast<long long>(entry.file_size(e2)) : -1;
      auto mtime = entry.last_write_time(e2).time_since_epoch().count();
      s[entry.path().string()] = {size, static_cast<long long>(mtime)};
    }
  }
  return s;
}

bool FolderWatcher::drain_events(int timeout_ms) {
  pollfd pfd{inotify_fd_, POLLIN, 0};
  if (poll(&pfd, 1, timeout_ms) <= 0) return false;
  alignas(inotify_event) char buf[8192];
  bool any = false;
  while (read(inotify_fd_, buf, sizeof buf) > 0) any = true;
  return any;
}

bool FolderWatcher::wait(std::chrono::milliseconds timeout) {
  if (inotify_fd_ >= 0) {
    if (!drain_events(static_cast<int>(timeout.count()))) return false;
    // Let a burst settle so a file written in pieces is read once, whole.
    while (drain_events(150)) {
    }
    return true;
  }
  auto now = std::chrono::steady_clock::now();
  auto next_poll = last_poll_ + std::chrono::seconds(2);
  if (now < next_poll) std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(timeout, next_poll - now));
  if (std::chrono::steady_clock::now() < next_poll) return false;
  last_poll_ = std::chrono::steady_clock::now();
  auto current = snapshot();
  if (current == last_) return false;
  last_ = std::move(current);
  return true;
}

}  // namespace campaignd::campaigns
