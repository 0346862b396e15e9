#include "daemon/app/status_page.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "daemon/analytics/timeseries.hpp"
#include "daemon/app/status_chart.hpp"
#include "daemon/store/campaigns.hpp"

namespace campaignd::app {

namespace {

// Used when templates_dir has no status.html.mustache: the same context, plainly.
constexpr const char* kBuiltInPage = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>campaignd status</title></head><body>
<h1>campaignd {{version}}</h1>
<p>Up {{uptime}}; queue {{queue_depth}}; {{send_rate}} messages/s.</p>
{{#campaigns}}<h2>{{name}} ({{state}})</h2>
<p>{{sent}} of {{recipients}} sent, {{failed}} failed, {{skipped}} skipped, {{queued}} queued.</p>
<ul>{{#funnel}}<li>{{label}}: {{count}} {{rate}}</li>{{/funnel}}</ul>
{{{chart}}}
{{/campaigns}}
{{#errors}}<p>{{file}}:{{line}}:{{col}}: {{message}}</p>{{/errors}}
</body></html>
)";

constexpr const char* kSecurityPolicy =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'";

std::string duration_text(std::int64_t s) {
  if (s < 60) return fmt::format("{} s", s);
  if (s < 3600) return fmt::format("{} min {} s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{} h {:02} min", s / 3600, (s % 3600) / 60);
  return fmt::format("{} d {} h", s / 86400, (s % 86400) / 3600);
}

std::int64_t int_of(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<std::int64_t>() : 0;
}

std::string text_of(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// Mustache treats "" as true: absent values are null, so {{#x}} sections skip them.
nlohmann::json text_or_null(const nlohmann::json& j, const char* key) {
  std::string t = text_of(j, key);
  return t.empty() ? nlohmann::json(nullptr) : nlohmann::json(t);
}

std::string percent(std::int64_t part, std::int64_t whole) {
  if (whole <= 0) return "";
  return fmt::format("{:.1f}%", 100.0 * static_cast<double>(part) / static_cast<double>(whole));
}

double width(std::int64_t part, std::int64_t whole) {
  if (whole <= 0) return 0;
  return std::clamp(100.0 * static_cast<double>(part) / static_cast<double>(whole), 0.0, 100.0);
}

// Recipients, then sent, then the responses (distinct contacts, human only); rates are of
// `delivered` where something reports delivery, else of `sent` (SPEC.md).
nlohmann::json funnel(const nlohmann::json& c) {
  const nlohmann::json& ev = c.contains("events") && c["events"].is_object() ? c["events"] : nlohmann::json::object();
  std::int64_t recipients = int_of(c, "recipients"), sent = int_of(c, "sent");
  std::int64_t delivered = int_of(ev, "delivered");
  std::int64_t base = delivered > 0 ? delivered : sent;
  std::int64_t scale = std::max(recipients, sent);
  nlohmann::json steps = nlohmann::json::array();
  auto step = [&](const char* label, std::int64_t count, const std::string& rate) {
    steps.push_back({{"label", label}, {"count", count}, {"rate", rate}, {"width", fmt::format("{:.1f}", width(count, scale))}});
  };
  step("recipients", recipients, "");
  step("sent", sent, percent(sent, recipients));
  if (delivered > 0) step("delivered", delivered, percent(delivered, sent));
  step("opened", int_of(ev, "opened"), percent(int_of(ev, "opened"), base));
  step("clicked", int_of(ev, "clicked"), percent(int_of(ev, "clicked"), base));
  for (const char* kind : {"replied", "converted", "unsubscribed", "bounced", "complained"})
    if (int_of(ev, kind) > 0) step(kind, int_of(ev, kind), percent(int_of(ev, kind), base));
  return steps;
}

}  // namespace

std::pair<util::UnixTime, util::UnixTime> StatusPage::chart_hours(const std::vector<analytics::HourlyPoint>& points,
                                                                   util::UnixTime started_at, util::UnixTime now) {
  constexpr util::UnixTime kHour = 3600;
  util::UnixTime start = analytics::hour_start(started_at > 0 ? started_at : now);
  if (!points.empty()) start = std::min(start, points.front().hour);
  util::UnixTime end = std::min(analytics::hour_start(now), start + (kMaxChartHours - 1) * kHour);
  if (!points.empty()) end = std::max(end, points.back().hour);
  end = std::max(end, start);
  start = std::clamp(start, end - (kMaxChartHours - 1) * kHour, end - (kMinChartHours - 1) * kHour);
  return {start, end};
}

Result<StatusPage> StatusPage::create(const std::string& templates_dir) {
  auto page = render::PageTemplate::load(templates_dir, "status", kBuiltInPage);
  if (!page) return std::unexpected(page.error());
  return StatusPage(std::move(*page));
}

Result<nlohmann::json> StatusPage::context(const store::Database& reader, const nlohmann::json& status,
                                           util::UnixTime now) {
  nlohmann::json ctx;
  ctx["version"] = text_of(status, "version");
  ctx["uptime"] = duration_text(int_of(status, "uptime_s"));
  ctx["generated_at"] = util::format_iso8601(now);
  ctx["queue_depth"] = int_of(status, "queue_depth");
  ctx["in_flight"] = int_of(status, "in_flight");
  double rate = status.contains("send_rate") && status["send_rate"].is_number() ? status["send_rate"].get<double>() : 0.0;
  ctx["send_rate"] = fmt::format("{:.1f}", rate);
  ctx["transport"] = text_of(status, "transport");
  ctx["status_error"] = text_or_null(status, "error");
  if (status.contains("totals") && status["totals"].is_object()) {
    const auto& t = status["totals"];
    ctx["totals"] = {{"sent", int_of(t, "sent")}, {"failed", int_of(t, "failed")},
                     {"retried", int_of(t, "retried")}, {"skipped", int_of(t, "skipped")}};
  }

  std::map<std::string, std::int64_t> ids;
  auto rows = store::CampaignRepository(reader).list();
  if (!rows) return std::unexpected(rows.error());
  for (const auto& row : *rows) ids[row.name] = row.id;

  ctx["campaigns"] = nlohmann::json::array();
  if (status.contains("campaigns") && status["campaigns"].is_array()) {
    for (const auto& c : status["campaigns"]) {
      std::string name = text_of(c, "name");
      std::string state = text_of(c, "state");
      std::int64_t recipients = int_of(c, "recipients"), sent = int_of(c, "sent"), failed = int_of(c, "failed"),
                   skipped = int_of(c, "skipped");
      std::int64_t done = sent + failed + skipped;
      nlohmann::json out = {{"name", name},
                            {"state", state},
                            {"recipients", recipients},
                            {"sent", sent},
                            {"failed", failed},
                            {"skipped", skipped},
                            {"queued", int_of(c, "queued")},
                            {"progress", recipients > 0 ? percent(done, recipients) : "0.0%"},
                            {"progress_width", fmt::format("{:.1f}", width(done, recipients))},
                            {"error", text_or_null(c, "error")},
                            {"funnel", funnel(c)}};
      if (c.contains("started_at") && c["started_at"].is_number())
        out["started_at"] = util::format_iso8601(c["started_at"].get<std::int64_t>());
      std::vector<analytics::HourlyPoint> points;
      if (auto it = ids.find(name); it != ids.end()) {
        auto series = analytics::hourly_series(reader, it->second);
        if (!series) return std::unexpected(series.error());
        points = std::move(*series);
      }
      util::UnixTime started = c.contains("started_at") && c["started_at"].is_number() ? c["started_at"].get<std::int64_t>() : 0;
      auto [first, last] = chart_hours(points, started, now);
      out["chart"] = hourly_chart_svg(analytics::fill_hours(points, first, last), "Opens and clicks per hour: " + name);
      ctx["campaigns"].push_back(std::move(out));
    }
  }
  ctx["has_campaigns"] = !ctx["campaigns"].empty();

  ctx["errors"] = nlohmann::json::array();
  if (status.contains("errors") && status["errors"].is_array())
    for (const auto& e : status["errors"])
      ctx["errors"].push_back({{"file", text_of(e, "file")},
                               {"line", int_of(e, "line")},
                               {"col", int_of(e, "col")},
                               {"message", text_of(e, "message")}});
  ctx["has_errors"] = !ctx["errors"].empty();
  return ctx;
}

Result<std::string> StatusPage::render(const store::Database& reader, const nlohmann::json& status,
                                       util::UnixTime now) const {
  auto ctx = context(reader, status, now);
  if (!ctx) return std::unexpected(ctx.error());
  return page_.render(*ctx);
}

http::HttpResponse StatusPage::respond(const store::Database& reader, const nlohmann::json& status,
                                       util::UnixTime now) const {
  auto html = render(reader, status, now);
  if (!html) spdlog::error("status page: {}", html.error());
  auto response = html ? http::HttpResponse::html(200, std::move(*html))
                       : http::HttpResponse::html(500, "<!doctype html><meta charset=utf-8><title>Error</title>"
                                                       "<p>The status page could not be built; see the log.</p>");
  response.headers.emplace_back("Content-Security-Policy", kSecurityPolicy);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  return response;
}

}  // namespace campaignd::app
