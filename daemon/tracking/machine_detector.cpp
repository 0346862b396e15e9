// The rules are documented in the header; the user-agent table carries a source per entry.
#include "daemon/tracking/machine_detector.hpp"

#include <algorithm>
#include <array>
#include <functional>

#include "daemon/util/strings.hpp"

namespace campaignd::tracking {

namespace {

struct MachineAgent {
  std::string_view needle;  // lower case, matched anywhere in the lower-cased user agent
  std::string_view name;
};

// Substrings that only machines put in a user agent: the security gateways named in link-scanner
// reports (Mautic issue #16263, resend-node issue #901; when they announce themselves at all:
// many use a stock browser agent, which rules 3 and 4 catch), Bing's documented "BingPreview"
// token, and the default agents of HTTP libraries and headless browsers.
constexpr std::array<MachineAgent, 22> kMachineAgents = {{
    {"bingpreview", "BingPreview (Microsoft Safe Links)"},
    {"safelinks", "Microsoft Safe Links"},
    {"barracuda", "Barracuda"},
    {"mimecast", "Mimecast"},
    {"proofpoint", "Proofpoint"},
    {"urldefense", "Proofpoint URL Defense"},
    {"trendmicro", "Trend Micro"},
    {"symantec", "Symantec"},
    {"forcepoint", "Forcepoint"},
    {"python-requests", "python-requests"},
    {"python-urllib", "python-urllib"},
    {"aiohttp", "aiohttp"},
    {"curl/", "curl"},
    {"wget/", "Wget"},
    {"go-http-client", "Go-http-client"},
    {"okhttp", "OkHttp"},
    {"java/", "Java"},
    {"apache-httpclient", "Apache HttpClient"},
    {"libwww-perl", "libwww-perl"},
    {"headlesschrome", "headless Chrome"},
    {"phantomjs", "PhantomJS"},
    {"slackbot", "Slackbot link preview"},
}};

constexpr size_t kMaxClicksPerSend = 16;

}  // namespace

std::string machine_user_agent_reason(std::string_view user_agent) {
  std::string_view ua = util::trim(user_agent);
  if (ua.empty()) return "empty user agent";
  if (ua == "Mozilla/5.0") return "user agent: bare Mozilla/5.0 (Apple Mail Privacy Protection proxy)";
  std::string lower = util::to_lower(ua);
  for (const auto& agent : kMachineAgents)
    if (lower.find(agent.needle) != std::string::npos) return "user agent: " + std::string(agent.name);
  return {};
}

Verdict MachineDetector::classify(const Hit& hit) {
  std::int64_t now_ms = clock_.now_ms();
  bool burst = false;
  if (hit.kind == HitKind::click) {
    std::lock_guard lock(mutex_);
    burst = record_click(hit.send_id, hit.url, now_ms);
  }
  if (util::iequals(hit.method, "HEAD")) return {true, "HEAD request"};
  if (std::string reason = machine_user_agent_reason(hit.user_agent); !reason.empty()) return {true, reason};
  if (hit.sent_at && now_ms - *hit.sent_at * 1000 < settings_.seconds_after_send * 1000)
    return {true, "within " + std::to_string(settings_.seconds_after_send) + "s of sending"};
  if (burst) return {true, "several links of one message clicked within " +
                               std::to_string(settings_.burst_window_ms) + "ms"};
  return {};
}

bool MachineDetector::record_click(std::int64_t send_id, std::string_view url, std::int64_t now_ms) {
  forget_old(now_ms);
  SendWindow& w = windows_[send_id];
  std::int64_t since = now_ms - settings_.burst_window_ms;
  std::erase_if(w.clicks, [&](const RecentClick& c) { return c.at_ms < since; });
  if (w.clicks.size() >= kMaxClicksPerSend) w.clicks.erase(w.clicks.begin());
  w.clicks.push_back({now_ms, std::hash<std::string_view>{}(url)});
  w.last_seq = next_seq_++;
  order_.push_back({now_ms, send_id, w.last_seq});

  std::vector<size_t> distinct;
  for (const auto& c : w.clicks)
    if (std::find(distinct.begin(), distinct.end(), c.url_hash) == distinct.end()) distinct.push_back(c.url_hash);
  return static_cast<int>(distinct.size()) >= settings_.burst_distinct_links;
}

void MachineDetector::forget_old(std::int64_t now_ms) {
  std::int64_t since = now_ms - settings_.burst_window_ms;
  // Each send's latest click is in order_, so erasing a send when its latest entry leaves keeps
  // windows_ no larger than order_.
  while (!order_.empty() && (order_.front().at_ms < since || order_.size() >= settings_.max_recent_hits)) {
    OrderEntry oldest = order_.front();
    order_.pop_front();
    auto it = windows_.find(oldest.send_id);
    if (it != windows_.end() && it->second.last_seq == oldest.seq) windows_.erase(it);
  }
}

size_t MachineDetector::tracked_sends() const {
  std::lock_guard lock(mutex_);
  return windows_.size();
}

}  // namespace campaignd::tracking
