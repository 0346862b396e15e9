// The status page's charts: SVG drawn on the server (no JavaScript), one per campaign, with
// opens and clicks per hour as two lines, a legend, a y axis of counts and UTC hour labels.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "daemon/analytics/timeseries.hpp"

namespace campaignd::app {

// `hours` is a dense series (analytics::fill_hours); with no opens or clicks in it, the chart
// says so instead of drawing flat lines. `title` names the chart for screen readers
// (the <title> element) and may hold anything: every text is escaped. The result is a complete,
// well-formed <svg> element to put inline in HTML5.
std::string hourly_chart_svg(const std::vector<analytics::HourlyPoint>& hours, std::string_view title);

// & < > " ' as entities: safe in XML/HTML text and in quoted attributes.
std::string xml_escape(std::string_view text);

}  // namespace campaignd::app
