// Applies an adapter to one verified webhook post: the provider's payload in, campaignd
// ResponseEvents out. Pure: no store, no clock; events without a time get 0 (the recorder's now).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/http/http_types.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/webhooks/adapter.hpp"

namespace campaignd::tracking::webhooks {

struct MappedPost {
  std::vector<ResponseEvent> events;
  int ignored = 0;  // provider events with a type the adapter does not map (or maps to ignore)
};

// An error, worded for a 400 reply, when the body is not shaped as the adapter says (no events
// where `root` points, an event that is not an object, a time that does not parse).
// Provider event ids come out as "<provider>:<id>"; an event with no id gets a hash of its JSON,
// so a retried post is still recognised.
Result<MappedPost> map_post(const Adapter& adapter, const nlohmann::json& body, const http::HttpRequest& request);

// A time value as the adapter's format reads it; nullopt when it does not parse.
std::optional<util::UnixTime> parse_event_time(const nlohmann::json& value, TimeFormat format);

}  // namespace campaignd::tracking::webhooks
