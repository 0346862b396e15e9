// util/thread_name: what the kernel shows for a thread (top -H, perf), cut to its 15 bytes.
#include <doctest/doctest.h>

#include <string>
#include <thread>

#include "daemon/util/thread_name.hpp"

using namespace campaignd;

TEST_CASE("thread names: set for the calling thread only, cut to the kernel's 15 bytes") {
  std::string before = util::this_thread_name();
  std::string named, cut;
  std::thread([&] {
    util::name_this_thread("store-writer");
    named = util::this_thread_name();
  }).join();
  std::thread([&] {
    util::name_this_thread("send12:a-relay-with-a-long-name");
    cut = util::this_thread_name();
  }).join();
  CHECK(named == "store-writer");
  CHECK(cut == "send12:a-relay-");
  CHECK(cut.size() == 15);
  CHECK(util::this_thread_name() == before);  // the test's own thread kept its name
}
