#include "daemon/util/thread_name.hpp"

#include <pthread.h>

#include <array>

namespace campaignd::util {

namespace {
constexpr size_t kKernelNameBytes = 16;  // including the terminating NUL (TASK_COMM_LEN)
}

void name_this_thread(std::string_view name) {
  std::string cut(name.substr(0, kKernelNameBytes - 1));
  (void)pthread_setname_np(pthread_self(), cut.c_str());
}

std::string this_thread_name() {
  std::array<char, kKernelNameBytes> name{};
  if (pthread_getname_np(pthread_self(), name.data(), name.size()) != 0) return {};
  return std::string(name.data());
}

}  // namespace campaignd::util
