#include "daemon/app/status_report.hpp"

#include <map>
#include <sstream>

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
  // Responses per campaign: distinct contacts per event kind, human events only.
  std::map<std::int64_t, nlohmann::json> responses;
  {
    auto stmt = reader.cached(
        "SELECT campaign_id, kind, COUNT(DISTINCT contact_id) FROM events "
        "WHERE campaign_id IS NOT NULL AND machine = 0 AND kind <> 'sent' GROUP BY campaign_id, kind");
    if (!stmt) return std::unexpected(stmt.error());
    auto r = (*stmt)->each([&](const store::Statement& row) {
      responses[row.column_int(0)][row.column_text(1)] = row.column_int(2);
    });
    if (!r) return std::unexpected(r.error());
  }
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
  auto depth = store::SendRepository(reader).queue_depth();
  if (!depth) return std::unexpected(depth.error());
  out["queue_depth"] = *depth;
  out["send_rate"] = live.send_rate;
  out["in_flight"] = live.in_flight;
  out["totals"] = {{"sent", live.sent}, {"failed", live.failed}, {"retried", live.retried}, {"skipped", live.skipped}};
  out["errors"] = nlohmann::json::array();
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
  m << "# HELP campaignd_file_errors Campaign files rejected.\n# TYPE campaignd_file_errors gauge\n"
    << "campaignd_file_errors " << status["errors"].size() << "\n";
  return m.str();
}

}  // namespace campaignd::app
