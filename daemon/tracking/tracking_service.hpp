// The recipients' side of open and click tracking: GET /t/o/{token} answers the 1x1 pixel and
// GET /t/c/{token} redirects to the link's original URL, each after recording an `opened` or
// `clicked` event (flagged when a machine made it; see machine_detector.hpp).
//
// Contract: a forged or altered token gets 404 and writes nothing. Otherwise the event is
// committed before the response is returned; if the store fails, the error is logged and the
// recipient still gets the pixel or reaches the page. Nothing here changes a contact's state:
// these are GETs, and scanners follow them. A token for a send we no longer hold (a preview, a
// reset database) is answered the same way and records nothing.
//
// Thread-safe: open() and click() may be called concurrently (writes go through the store's
// WriteQueue; the detector locks its own memory).
#pragma once

#include <string>

#include "daemon/http/http_types.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/machine_detector.hpp"
#include "daemon/tracking/tracking_links.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

class TrackingService {
 public:
  // All references must outlive the service.
  TrackingService(store::Store& store, EventRecorder& recorder, const TrackingLinks& links, MachineDetector& detector,
                  const util::Clock& clock)
      : store_(store), recorder_(recorder), links_(links), detector_(detector), clock_(clock) {}

  // GET (or HEAD) /t/o/{token}: captures[0] is the token.
  http::HttpResponse open(const http::HttpRequest& request);
  // GET (or HEAD) /t/c/{token}: captures[0] is the token.
  http::HttpResponse click(const http::HttpRequest& request);

  // The 43-byte transparent 1x1 GIF the pixel answers with.
  static const std::string& transparent_gif();

 private:
  // Finds the send, judges the hit and records the event in one write job. False when the store
  // failed (already logged).
  bool record(std::int64_t send_id, HitKind kind, const http::HttpRequest& request, const std::string& url);

  store::Store& store_;
  EventRecorder& recorder_;
  const TrackingLinks& links_;
  MachineDetector& detector_;
  const util::Clock& clock_;
};

}  // namespace campaignd::tracking
