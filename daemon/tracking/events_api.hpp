// POST /api/events (admin): events from the shop or CRM, such as
// {"email": "a@example.com", "type": "purchase", "amount": 42.5, "at": "2026-03-01T09:00:00Z",
//  "id": "order-1234"} — one object or an array. The whole post is checked first (400 names the
// bad event and field; nothing is stored), then stored in one transaction before the answer;
// an `id` (or, without one, the event's content) makes re-posts harmless. Purchases are
// credited to the last clicked message within the attribution window (`converted`).
#pragma once

#include <cstdint>

#include "daemon/http/http_types.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

class EventsApi {
 public:
  EventsApi(store::Store& store, const util::Clock& clock, std::int64_t attribution_window_seconds)
      : store_(store), clock_(clock), window_(attribution_window_seconds) {}

  http::HttpResponse post(const http::HttpRequest& request);

 private:
  store::Store& store_;
  const util::Clock& clock_;
  std::int64_t window_;
};

}  // namespace campaignd::tracking
