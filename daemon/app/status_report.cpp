#include "daemon/app/status_report.hpp"

#include <map>
#include <sstream>

#include "daemon/analytics/campaign_counts.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/sends.hpp"

namespace campaignd::app {

Result<nlohmann::json> build_status(const store::Database& reader, const std::vector<PlacedError>& file_errors,
                                    const LiveFigures& live) {
  nlohmann::json out;
  out["version"] = CAMPAIGND_VERSION;
  out["uptime_s"] = static_cast<std::int64_t>(live.uptime_s);
  out["running"] = live.daemon_running;
  out["transport"] = live.transport;
  store::CampaignRepository campaigns(reader);
  auto rows = campaigns.list();
  if (!rows) return std::unexpected(rows.error());
  // Responses per campaign: distinct contacts per event kind, human events only, from the
  // aggregates the events triggers keep (a GROUP BY over a million events took a second).
  auto counts = analytics::campaign_response_counts(reader);
  if (!counts) return std::unexpected(counts.error());
  std::map<std::int64_t, nlohmann::json> responses;
  for (const auto& [campaign, kinds] : *counts)
    for (const auto& [kind, n] : kinds)
      if (kind != "sent") responses[campaign][kind] = n;
  out["campaigns"] = nlohmann::json::array();
  for (const auto& row : *rows) {
    auto counts = campaigns.send_counts(row.id);
    if (!counts) return std::unexpected(counts.error());
    nlohmann::json c = {{"name", row.name},
                        {"state", row.state},
                        {"file", row.file},
                        {"recipients", row.recipients},
                        {"queued", counts->queued + counts->sending},
                        {"sent", counts->sent},
                        {"failed", counts->failed},
                        {"skipped", counts->skipped}};
    if (row.started_at) c["started_at"] = *row.started_at;
    if (row.finished_at) c["finished_at"] = *row.finished_at;
    if (row.error) c["error"] = *row.error;
    auto it = responses.find(row.id);
    c["events"] = it == responses.end() ? nlohmann::json::object() : it->second;
    out["campaigns"].push_back(std::move(c));
  }
  // Recipients waiting for a reason (a throttling destination, a relay down or out of budget,
  // a temporary failure), by campaign and reason.
  std::map<std::int64_t, std::string> names;
  for (const auto& row : *rows) names[row.id] = row.name;
  auto deferred = store::SendRepository(reader).deferred_summary();
  if (!deferred) return std::unexpected(deferred.error());
  out["deferred"] = nlohmann::json::array();
  for (const auto& d : *deferred)
    out["deferred"].push_back({{"campaign", names[d.campaign_id]},
                               {"recipients", d.count},
                               {"reason", d.reason},
                               {"next_attempt_at", util::format_iso8601(d.next_attempt_at)}});
  if (live.flows.is_object()) {
    out["relays"] = live.flows.value("relays", nlohmann::json::array());
    out["destinations"] = live.flows.value("destinations", nlohmann::json::array());
  }
  auto depth = store::SendRepository(reader).queue_depth();
  if (!depth) return std::unexpected(depth.error());
  out["queue_depth"] = *depth;
  out["send_rate"] = live.send_rate;
  out["in_flight"] = live.in_flight;
  out["totals"] = {{"sent", live.sent}, {"failed", live.failed}, {"retried", live.retried}, {"skipped", live.skipped},
                    {"deferred", live.deferred}};
  out["errors"] = nlohmann::json::array();
  if (!live.paused_reason.empty()) {
    out["sending_paused"] = {{"reason", live.paused_reason},
                             {"since", util::format_iso8601(live.paused_since)},
                             {"unrecorded_outcomes", live.unrecorded}};
    out["errors"].push_back({{"file", live.database},
                             {"line", 0},
                             {"col", 0},
                             {"message", "sending paused until the database takes writes again: " + live.paused_reason}});
  }
  for (const auto& e : file_errors)
    out["errors"].push_back({{"file", e.place.file}, {"line", e.place.line}, {"col", e.place.col}, {"message", e.message}});
  return out;
}

namespace {

std::string label_escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string metrics_from_status(const nlohmann::json& status) {
  std::ostringstream m;
  m << "# HELP campaignd_up Whether the daemon is running.\n# TYPE campaignd_up gauge\ncampaignd_up 1\n";
  m << "# HELP campaignd_uptime_seconds Seconds since start.\n# TYPE campaignd_uptime_seconds gauge\n"
    << "campaignd_uptime_seconds " << status.value("uptime_s", 0) << "\n";
  m << "# HELP campaignd_queue_depth Sends queued or in flight.\n# TYPE campaignd_queue_depth gauge\n"
    << "campaignd_queue_depth " << status.value("queue_depth", 0) << "\n";
  m << "# HELP campaignd_send_rate Messages sent per second, recent.\n# TYPE campaignd_send_rate gauge\n"
    << "campaignd_send_rate " << status.value("send_rate", 0.0) << "\n";
  m << "# HELP campaignd_sends Sends by campaign and state.\n# TYPE campaignd_sends gauge\n";
  for (const auto& c : status["campaigns"]) {
    std::string name = label_escape(c.value("name", ""));
    for (const char* state : {"queued", "sent", "failed", "skipped"})
      m << "campaignd_sends{campaign=\"" << name << "\",state=\"" << state << "\"} " << c.value(state, 0) << "\n";
  }
  m << "# HELP campaignd_responses Distinct contacts per campaign and response kind (human only).\n"
    << "# TYPE campaignd_responses gauge\n";
  for (const auto& c : status["campaigns"]) {
    if (!c.contains("events")) continue;
    std::string name = label_escape(c.value("name", ""));
    for (auto it = c["events"].begin(); it != c["events"].end(); ++it)
      m << "campaignd_responses{campaign=\"" << name << "\",kind=\"" << label_escape(it.key()) << "\"} "
        << it->get<std::int64_t>() << "\n";
  }
  m << "# HELP campaignd_sent_total Messages sent since start.\n# TYPE campaignd_sent_total counter\n"
    << "campaignd_sent_total " << status["totals"].value("sent", 0) << "\n";
  m << "# HELP campaignd_failed_total Sends failed since start.\n# TYPE campaignd_failed_total counter\n"
    << "campaignd_failed_total " << status["totals"].value("failed", 0) << "\n";
  m << "# HELP campaignd_retries_total Temporary failures since start.\n# TYPE campaignd_retries_total counter\n"
    << "campaignd_retries_total " << status["totals"].value("retried", 0) << "\n";
  auto flow_series = [&](const char* what, const char* label, const nlohmann::json& rows) {
    if (!rows.is_array() || rows.empty()) return;
    std::string prefix = std::string("campaignd_") + what;
    m << "# HELP " << prefix << "_sent_total Messages sent through this " << what << " since start.\n"
      << "# TYPE " << prefix << "_sent_total counter\n";
    for (const auto& r : rows)
      m << prefix << "_sent_total{" << label << "=\"" << label_escape(r.value("name", "")) << "\"} " << r.value("sent", 0) << "\n";
    m << "# HELP " << prefix << "_deferred_total Sends deferred (throttled or temporary failure) since start.\n"
      << "# TYPE " << prefix << "_deferred_total counter\n";
    for (const auto& r : rows)
      m << prefix << "_deferred_total{" << label << "=\"" << label_escape(r.value("name", "")) << "\"} "
        << r.value("deferred", 0) << "\n";
    m << "# HELP " << prefix << "_throttles_total Throttling replies since start.\n"
      << "# TYPE " << prefix << "_throttles_total counter\n";
    for (const auto& r : rows)
      m << prefix << "_throttles_total{" << label << "=\"" << label_escape(r.value("name", "")) << "\"} "
        << r.value("throttles", 0) << "\n";
    m << "# HELP " << prefix << "_flow_factor Share of the configured flow allowed now (1 = full).\n"
      << "# TYPE " << prefix << "_flow_factor gauge\n";
    for (const auto& r : rows)
      m << prefix << "_flow_factor{" << label << "=\"" << label_escape(r.value("name", "")) << "\"} "
        << r.value("factor", 1.0) << "\n";
    m << "# HELP " << prefix << "_send_rate Messages per second through this " << what << ", last 10 s.\n"
      << "# TYPE " << prefix << "_send_rate gauge\n";
    for (const auto& r : rows)
      m << prefix << "_send_rate{" << label << "=\"" << label_escape(r.value("name", "")) << "\"} "
        << r.value("send_rate", 0.0) << "\n";
    m << "# HELP " << prefix << "_paused_seconds Seconds until a throttling pause ends.\n"
      << "# TYPE " << prefix << "_paused_seconds gauge\n";
    for (const auto& r : rows)
      m << prefix << "_paused_seconds{" << label << "=\"" << label_escape(r.value("name", "")) << "\"} "
        << r.value("paused_s", 0.0) << "\n";
  };
  flow_series("relay", "relay", status.value("relays", nlohmann::json::array()));
  flow_series("destination", "domain", status.value("destinations", nlohmann::json::array()));
  if (status.contains("relays")) {
    m << "# HELP campaignd_relay_up Whether the relay answers (0 while it is down).\n# TYPE campaignd_relay_up gauge\n";
    for (const auto& r : status["relays"])
      m << "campaignd_relay_up{relay=\"" << label_escape(r.value("name", "")) << "\"} "
        << (r.value("state", "") == "down" ? 0 : 1) << "\n";
  }
  m << "# HELP campaignd_deferred_sends Queued sends waiting for a reason, by campaign.\n"
    << "# TYPE campaignd_deferred_sends gauge\n";
  {
    std::map<std::string, std::int64_t> by_campaign;
    for (const auto& d : status.value("deferred", nlohmann::json::array()))
      by_campaign[d.value("campaign", "")] += d.value("recipients", 0);
    for (const auto& [name, n] : by_campaign)
      m << "campaignd_deferred_sends{campaign=\"" << label_escape(name) << "\"} " << n << "\n";
  }
  m << "# HELP campaignd_sending_paused 1 while sending waits for the store to take writes.\n"
    << "# TYPE campaignd_sending_paused gauge\ncampaignd_sending_paused " << (status.contains("sending_paused") ? 1 : 0)
    << "\n";
  m << "# HELP campaignd_file_errors Campaign files rejected.\n# TYPE campaignd_file_errors gauge\n"
    << "campaignd_file_errors " << status["errors"].size() << "\n";
  return m.str();
}

}  // namespace campaignd::app
