// Fuzz target: campaign files (campaigns_dir/*.yaml) as the loader reads them. Any input must
// give a campaign or placed errors, never a crash or an exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "daemon/campaigns/campaign_file.hpp"

using namespace campaignd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);

  auto parsed = campaigns::parse_campaign_text(text, "fuzz.yaml");
  if (!parsed) {
    // A failed parse must say why: an empty error list would hide the problem from the author.
    if (parsed.error().empty()) std::abort();
    for (const auto& e : parsed.error()) (void)e.to_string();
  }

  auto partial = campaigns::parse_campaign_partial(text, "fuzz.yaml");
  for (const auto& e : partial.errors) (void)e.to_string();
  // The two entry points read the same file and must agree on whether it is valid.
  if (parsed.has_value() != (partial.readable && partial.errors.empty())) std::abort();
  return 0;
}
