// Fuzz target: automation files (campaign files with a `trigger:` key) and their trigger strings.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "daemon/automation/automation_file.hpp"

using namespace campaignd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  auto parsed = automation::parse_automation_text(text, "fuzz.yaml");
  if (!parsed) {
    if (parsed.error().empty()) std::abort();
    for (const auto& e : parsed.error()) (void)e.to_string();
  }

  // The first line on its own as a `trigger:` value ("clicked:https://…", "date:birthday-7d").
  std::string error;
  auto trigger = automation::parse_trigger(text.substr(0, text.find('\n')), error);
  if (!trigger && error.empty()) std::abort();
  return 0;
}
