#include "daemon/app/status_chart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

namespace campaignd::app {

namespace {

// Geometry of one chart, in SVG user units.
constexpr double kWidth = 640, kHeight = 230;
constexpr double kLeft = 52, kRight = kWidth - 18, kTop = 36, kBottom = kHeight - 44;
constexpr const char* kOpenColour = "#2563eb";
constexpr const char* kClickColour = "#ea580c";
constexpr std::size_t kMaxXLabels = 8;
constexpr std::size_t kMaxMarkers = 72;  // beyond this the dots would merge into the line

// The smallest of 1, 2, 5 x 10^k that is >= x (x >= 1): a tick step people read easily.
std::int64_t nice_step(double x) {
  std::int64_t magnitude = 1;
  while (magnitude * 10 <= x) magnitude *= 10;
  for (std::int64_t m : {1, 2, 5, 10})
    if (static_cast<double>(m * magnitude) >= x) return m * magnitude;
  return 10 * magnitude;
}

std::string utc(util::UnixTime t, const char* pattern) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, pattern, &tm);
  return std::string(buf, n);
}

std::string polyline(const std::vector<std::pair<double, double>>& xy, const char* colour, bool markers) {
  std::string out = fmt::format(R"(<polyline fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round" points=")",
                                colour);
  for (std::size_t i = 0; i < xy.size(); ++i) out += fmt::format("{}{:.1f},{:.1f}", i ? " " : "", xy[i].first, xy[i].second);
  out += "\"/>\n";
  if (markers)
    for (const auto& [x, y] : xy) out += fmt::format(R"(<circle cx="{:.1f}" cy="{:.1f}" r="2.5" fill="{}"/>)", x, y, colour) + "\n";
  return out;
}

}  // namespace

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // XML 1.0 forbids most control characters even as entities: drop them.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') continue;
        out.push_back(c);
    }
  }
  return out;
}

std::string hourly_chart_svg(const std::vector<analytics::HourlyPoint>& hours, std::string_view title) {
  std::string svg = fmt::format(
      R"(<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {0} {1}" width="{0}" height="{1}" role="img" )"
      R"(font-family="sans-serif" font-size="11">)" "\n<title>{2}</title>\n",
      kWidth, kHeight, xml_escape(title));
  svg += fmt::format(R"(<rect x="0" y="0" width="{}" height="{}" fill="#ffffff"/>)", kWidth, kHeight) + "\n";

  std::int64_t total_opens = 0, total_clicks = 0, peak = 0;
  for (const auto& p : hours) {
    total_opens += p.opens;
    total_clicks += p.clicks;
    peak = std::max({peak, p.opens, p.clicks});
  }
  // Legend, top left, with the totals shown.
  svg += fmt::format(R"(<rect x="{}" y="12" width="12" height="12" fill="{}"/>)", kLeft, kOpenColour) + "\n";
  svg += fmt::format(R"(<text x="{}" y="22">opens ({})</text>)", kLeft + 17, total_opens) + "\n";
  svg += fmt::format(R"(<rect x="{}" y="12" width="12" height="12" fill="{}"/>)", kLeft + 120, kClickColour) + "\n";
  svg += fmt::format(R"(<text x="{}" y="22">clicks ({})</text>)", kLeft + 137, total_clicks) + "\n";

  // Y axis: counts, from 0 to a round maximum, with grid lines.
  std::int64_t step = nice_step(std::max<double>(1.0, static_cast<double>(peak) / 4.0));
  std::int64_t top = std::max<std::int64_t>(step, (peak + step - 1) / step * step);
  auto y_of = [&](std::int64_t v) { return kBottom - (kBottom - kTop) * static_cast<double>(v) / static_cast<double>(top); };
  for (std::int64_t v = 0; v <= top; v += step) {
    double y = y_of(v);
    svg += fmt::format(R"(<line x1="{}" y1="{:.1f}" x2="{}" y2="{:.1f}" stroke="#e5e7eb"/>)", kLeft, y, kRight, y) + "\n";
    svg += fmt::format(R"(<text x="{}" y="{:.1f}" text-anchor="end">{}</text>)", kLeft - 6, y + 4, v) + "\n";
  }
  svg += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{0}" y2="{2}" stroke="#6b7280"/>)", kLeft, kTop, kBottom) + "\n";
  svg += fmt::format(R"(<line x1="{0}" y1="{1}" x2="{2}" y2="{1}" stroke="#6b7280"/>)", kLeft, kBottom, kRight) + "\n";
  svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" fill="#6b7280">hour (UTC)</text>)",
                     (kLeft + kRight) / 2, kHeight - 4) + "\n";

  if (peak == 0)
    svg += fmt::format(R"(<text x="{}" y="{}" text-anchor="middle" fill="#6b7280">no opens or clicks yet</text>)",
                       (kLeft + kRight) / 2, (kTop + kBottom) / 2) + "\n";
  if (hours.empty()) return svg + "</svg>";

  const std::size_t n = hours.size();
  auto x_of = [&](std::size_t i) {
    return n == 1 ? (kLeft + kRight) / 2 : kLeft + 8 + (kRight - kLeft - 16) * static_cast<double>(i) / static_cast<double>(n - 1);
  };
  // X axis: at most kMaxXLabels hour labels; the date under the first and wherever the day changes.
  std::size_t every = (n + kMaxXLabels - 1) / kMaxXLabels;
  std::string last_day;
  for (std::size_t i = 0; i < n; i += every) {
    double x = x_of(i);
    svg += fmt::format(R"(<line x1="{0:.1f}" y1="{1}" x2="{0:.1f}" y2="{2}" stroke="#6b7280"/>)", x, kBottom, kBottom + 4) + "\n";
    svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle">{}</text>)", x, kBottom + 15,
                       utc(hours[i].hour, "%H:00")) + "\n";
    std::string day = utc(hours[i].hour, "%b %d");
    if (day != last_day)
      svg += fmt::format(R"(<text x="{:.1f}" y="{}" text-anchor="middle" fill="#6b7280">{}</text>)", x, kBottom + 27,
                         day) + "\n";
    last_day = day;
  }

  if (peak == 0) return svg + "</svg>";
  std::vector<std::pair<double, double>> opens, clicks;
  for (std::size_t i = 0; i < n; ++i) {
    opens.emplace_back(x_of(i), y_of(hours[i].opens));
    clicks.emplace_back(x_of(i), y_of(hours[i].clicks));
  }
  bool markers = n <= kMaxMarkers;
  svg += polyline(opens, kOpenColour, markers);
  svg += polyline(clicks, kClickColour, markers);
  return svg + "</svg>";
}

}  // namespace campaignd::app
