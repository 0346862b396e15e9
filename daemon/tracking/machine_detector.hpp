// Tells opens and clicks made by machines (privacy proxies that prefetch images, security
// scanners that follow every link) from those made by people, so machine events are kept out of
// human rates and automations (STANDARDS.md "Tracking caveats"). It only flags: every hit is
// still recorded, with its reason.
//
// The rules, in the order they are tried, and where each comes from:
//  1. HEAD request. A person's browser or mail client always GETs; link scanners often probe
//     with HEAD first (STANDARDS.md; Mautic issue #16263 on SafeLinks / Mimecast / Proofpoint).
//  2. User agent.
//     - empty: every browser and mail client sends one.
//     - exactly "Mozilla/5.0": Apple Mail Privacy Protection fetches remote content through
//       Apple's proxies on delivery, with this bare user agent (SocketLabs, "Identifying Apple
//       MPP opens"; jdavidbakr/mail-tracker issue #255). A real open in Apple Mail without MPP
//       sends a full WebKit string and passes.
//     - scanner and library names: BingPreview (Microsoft Safe Links preview), Barracuda,
//       Mimecast, Proofpoint, python-requests, curl, Go-http-client, Wget, headless browsers…
//       (the kMachineAgents table in the .cpp, one source per entry).
//     - NOT flagged: GoogleImageProxy (Gmail, "…(via ggpht.com GoogleImageProxy)") and
//       YahooMailProxy fetch images when the recipient opens the message, not on delivery, so
//       their first fetch is a real open (Google's 2013 announcement of image proxying; the
//       proxy caches, so later re-opens are invisible, which undercounts rather than inflates).
//       Microsoft Safe Links usually fetches with an ordinary Chrome user agent, which is why
//       rules 3 and 4 exist.
//  3. Too soon after sending: a hit within `seconds_after_send` (default 10) of the send's
//     sent_at. Nobody reads a mail and clicks in that time; gateways fetch on delivery (Mautic
//     uses 2 s for the same signal; mail-tracker discussions suggest up to 30 s; resend-node
//     issue #901 shows a scanner click 12 s after delivery: 10 s is a compromise).
//  4. Burst: a click on a different link of the same send within `burst_window_ms` (default
//     2000) of another click, once `burst_distinct_links` (default 2) different links were hit
//     in that window. A scanner fetches every link at once; a person returns to the mail between
//     clicks. The hits that started a burst were judged before it could be seen and keep their
//     verdict; everything after is flagged.
//
// Thread-safe: classify() may be called from any thread. The memory of recent clicks is bounded
// (`max_recent_hits`) and forgets what is older than the burst window.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

enum class HitKind { open, click };

struct Hit {
  HitKind kind = HitKind::open;
  std::int64_t send_id = 0;
  std::string_view method = "GET";     // "HEAD" for a HEAD request
  std::string_view user_agent;
  std::optional<util::UnixTime> sent_at;  // when the message left us, if known
  std::string_view url;                 // for clicks: the original URL
};

struct Verdict {
  bool machine = false;
  std::string reason;  // empty for a human hit, e.g. "HEAD request", "user agent: curl"
};

struct MachineDetectorSettings {
  std::int64_t seconds_after_send = 10;
  std::int64_t burst_window_ms = 2000;
  int burst_distinct_links = 2;
  size_t max_recent_hits = 100000;  // clicks remembered across all sends
};

// The user-agent rule alone: the reason when the agent is a known machine, else empty.
std::string machine_user_agent_reason(std::string_view user_agent);

class MachineDetector {
 public:
  explicit MachineDetector(const util::Clock& clock, MachineDetectorSettings settings = {})
      : clock_(clock), settings_(settings) {}

  // Judges one hit at the clock's current time and, for a click, remembers it for rule 4.
  Verdict classify(const Hit& hit);

  // How many sends have clicks in memory (for tests and /metrics).
  size_t tracked_sends() const;

 private:
  struct RecentClick {
    std::int64_t at_ms;
    size_t url_hash;  // a hash, not the URL: bounded memory whatever the URLs' length
  };
  struct SendWindow {
    std::uint64_t last_seq = 0;       // the OrderEntry of this send's latest click
    std::vector<RecentClick> clicks;  // within the window, oldest first
  };
  struct OrderEntry {
    std::int64_t at_ms;
    std::int64_t send_id;
    std::uint64_t seq;
  };

  // Rule 4: records the click and tells whether it is part of a burst. Caller holds mutex_.
  bool record_click(std::int64_t send_id, std::string_view url, std::int64_t now_ms);
  void forget_old(std::int64_t now_ms);

  const util::Clock& clock_;
  const MachineDetectorSettings settings_;
  mutable std::mutex mutex_;
  std::unordered_map<std::int64_t, SendWindow> windows_;          // guarded by mutex_
  std::deque<OrderEntry> order_;                                  // every click, oldest first; guarded by mutex_
  std::uint64_t next_seq_ = 1;                                    // guarded by mutex_
};

}  // namespace campaignd::tracking
