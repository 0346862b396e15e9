// Fuzz target: webhook event mapping. The shipped adapters (webhooks/*.yaml) are loaded once;
// each input that is JSON is mapped by every one of them, as WebhookService does after the
// signature check. map_post may refuse a body (an error) or throw json::exception (the service
// turns that into a 400); anything else is a bug.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/tracking/webhooks/adapter.hpp"
#include "daemon/tracking/webhooks/event_mapper.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;

namespace {

// CAMPAIGND_SOURCE_DIR in the environment wins, so a copied binary can still find the adapters.
std::filesystem::path adapters_dir() {
  if (const char* dir = std::getenv("CAMPAIGND_SOURCE_DIR")) return std::filesystem::path(dir) / "webhooks";
  return std::filesystem::path(CAMPAIGND_SOURCE_DIR) / "webhooks";
}

const std::vector<Adapter>& adapters() {
  static const std::vector<Adapter> all = [] {
    std::vector<Adapter> out;
    for (const auto& entry : std::filesystem::directory_iterator(adapters_dir())) {
      if (entry.path().extension() != ".yaml") continue;
      std::vector<PlacedError> errors;
      auto a = load_adapter(entry.path().string(), errors);
      if (!a) {
        for (const auto& e : errors) std::fprintf(stderr, "%s\n", e.to_string().c_str());
        std::abort();
      }
      out.push_back(std::move(*a));
    }
    if (out.empty()) {
      std::fprintf(stderr, "fuzz_webhook_json: no adapters in %s\n", adapters_dir().c_str());
      std::abort();
    }
    return out;
  }();
  return all;
}

bool is_our_kind(std::string_view kind) {
  static constexpr std::array<std::string_view, 9> kKinds = {
      "delivered", "deferred", "bounced", "opened", "clicked", "replied", "unsubscribed", "complained", "converted"};
  return std::find(kKinds.begin(), kKinds.end(), kind) != kKinds.end();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto& all = adapters();
  http::HttpRequest request;
  request.method = "POST";
  request.body.assign(reinterpret_cast<const char*>(data), size);
  request.headers = {{"content-type", "application/json"}, {"webhook-id", "msg_2Lf1"},
                     {"webhook-timestamp", "1800000000"}, {"user-agent", "fuzz"}};

  const nlohmann::json body = nlohmann::json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) return 0;

  for (const Adapter& adapter : all) {
    request.path = "/webhooks/" + adapter.provider;
    request.captures = {adapter.provider};
    try {
      auto mapped = map_post(adapter, body, request);
      if (!mapped) {
        if (mapped.error().empty()) std::abort();
        continue;
      }
      if (mapped->ignored < 0) std::abort();
      for (const auto& e : mapped->events) {
        if (!is_our_kind(e.kind)) {
          std::fprintf(stderr, "fuzz_webhook_json: %s mapped an event to kind '%s'\n", adapter.provider.c_str(),
                       e.kind.c_str());
          std::abort();
        }
        // A provider id that is present must carry the provider's prefix (the idempotency key).
        if (e.provider_event_id && e.provider_event_id->rfind(adapter.provider + ":", 0) != 0) std::abort();
      }
    } catch (const nlohmann::json::exception&) {
      // The service answers these with 400 "unexpected payload".
    }
  }
  return 0;
}
