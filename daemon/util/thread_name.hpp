// Names the calling thread for the kernel (top -H, ps -L, perf's comm column, gdb), so an admin
// or a profile tells the store's writer from a sending session at a glance.
#pragma once

#include <string>
#include <string_view>

namespace campaignd::util {

// Linux keeps 15 bytes of a thread's name: longer names are cut there. Failure is harmless
// and ignored (a name is a convenience).
void name_this_thread(std::string_view name);

// The calling thread's name as the kernel has it (for tests and logs).
std::string this_thread_name();

}  // namespace campaignd::util
