// Async-signal-safe flags set by SIGTERM/SIGINT/SIGHUP; the main loop polls them.
#pragma once

#include <csignal>

namespace campaignd::app {

void install_signal_handlers();
bool stop_requested();
// True once per SIGHUP received since the last call.
bool take_reload_request();

}  // namespace campaignd::app
