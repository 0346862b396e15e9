#include "daemon/app/signals.hpp"

#include <atomic>

namespace campaignd::app {

namespace {
volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reload = 0;

extern "C" void on_stop(int) { g_stop = 1; }
extern "C" void on_reload(int) { g_reload = 1; }
}  // namespace

void install_signal_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = on_reload;
  sigaction(SIGHUP, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool stop_requested() { return g_stop != 0; }

bool take_reload_request() {
  if (!g_reload) return false;
  g_reload = 0;
  return true;
}

}  // namespace campaignd::app
