// The admin's status page, GET /: the /status document as HTML (templates_dir/status.html.mustache,
// or a plain built-in page when that file is missing), with each campaign's progress, funnel and
// an SVG chart of its opens and clicks per hour. Server-rendered, no JavaScript; the response
// carries a Content-Security-Policy that would refuse any script anyway.
//
// Thread-safety: after create(), render() and respond() may be called from any number of threads
// at once, each with its own reading connection.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/analytics/timeseries.hpp"
#include "daemon/http/http_types.hpp"
#include "daemon/render/page_template.hpp"
#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::app {

class StatusPage {
 public:
  // Hours a chart covers: from the campaign's start to now, at least kMinChartHours (earlier
  // hours are added) and at most kMaxChartHours (the latest ones, ending at the last response
  // if that came later than kMaxChartHours after the start).
  static constexpr std::int64_t kMinChartHours = 12;
  static constexpr std::int64_t kMaxChartHours = 72;
  // The first and last hour of a chart (see above); `started_at` 0 when unknown.
  static std::pair<util::UnixTime, util::UnixTime> chart_hours(const std::vector<analytics::HourlyPoint>& points,
                                                               util::UnixTime started_at, util::UnixTime now);

  // An error when templates_dir/status.html.mustache exists but does not parse.
  static Result<StatusPage> create(const std::string& templates_dir);

  // `status` is the document build_status() made (SPEC.md's /status); `reader` supplies the
  // hourly series. Every campaign of `status` is shown; names and errors are escaped.
  Result<std::string> render(const store::Database& reader, const nlohmann::json& status, util::UnixTime now) const;
  // render() as a 200 text/html response with no-store and security headers, or a 500 page.
  http::HttpResponse respond(const store::Database& reader, const nlohmann::json& status, util::UnixTime now) const;

  // The template's context (exposed for tests and for people writing their own template).
  static Result<nlohmann::json> context(const store::Database& reader, const nlohmann::json& status, util::UnixTime now);

 private:
  explicit StatusPage(render::PageTemplate page) : page_(std::move(page)) {}
  render::PageTemplate page_;
};

}  // namespace campaignd::app
