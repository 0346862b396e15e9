// Text renderings of the campaign and automation reports.
#include "daemon/analytics/report_format.hpp"

#include <cstdio>
#include <span>
#include <string_view>

namespace campaignd::analytics {

namespace {

const char* const kSliceColumns[] = {"recipients", "sent", "delivered", "bounced", "opened", "clicked", "replied",
                                     "unsubscribed", "complained", "conversions", "revenue", "open_rate",
                                     "click_rate", "click_to_open_rate", "reply_rate", "bounce_rate",
                                     "unsubscribe_rate", "complaint_rate"};
const char* const kLinkColumns[] = {"url", "clickers", "clicks", "click_rate", "share_of_clickers", "conversions",
                                    "revenue"};
const char* const kHourlyColumns[] = {"hour", "time", "opened", "first_opened", "clicked", "first_clicked", "replied",
                                      "first_replied", "unsubscribed", "first_unsubscribed", "converted",
                                      "first_converted"};

std::string format(const char* fmt, auto... args) {
  char buf[512];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}

std::string pct(const nlohmann::json& v) { return format("%6.2f%%", v.is_number() ? v.get<double>() * 100 : 0.0); }

long long count(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<long long>() : 0;
}

std::string text(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// One CSV section: `section,<first>,<columns...>` then a row per element.
void csv_section(std::string& out, const char* section, const char* first, const nlohmann::json& rows,
                 std::span<const char* const> columns_list, bool first_is_column = true) {
  if (!rows.is_array() || rows.empty()) return;
  out += "\nsection";
  if (first_is_column) out += std::string(",") + first;
  for (const char* c : columns_list) out += std::string(",") + c;
  out += "\n";
  for (const auto& r : rows) {
    out += section;
    if (first_is_column) out += "," + csv_field(r.value(first, nlohmann::json()));
    for (const char* c : columns_list) out += "," + csv_field(r.value(c, nlohmann::json()));
    out += "\n";
  }
}

void table_slices(std::string& out, const char* title, const char* key, const nlohmann::json& rows) {
  if (!rows.is_array() || rows.empty()) return;
  out += format("\n%s\n  %-28s %8s %8s %9s %8s %8s %8s %8s %8s %9s %9s\n", title, key, "SENT", "DELIV", "BOUNCE%",
                "OPEN%", "CLICK%", "CTOR%", "REPLY%", "UNSUB%", "CONV", "REVENUE");
  for (const auto& r : rows)
    out += format("  %-28.28s %8lld %8lld %9s %8s %8s %8s %8s %8s %9lld %9.2f\n", text(r, key).c_str(), count(r, "sent"),
                  count(r, "delivered"), pct(r["bounce_rate"]).c_str(), pct(r["open_rate"]).c_str(),
                  pct(r["click_rate"]).c_str(), pct(r["click_to_open_rate"]).c_str(), pct(r["reply_rate"]).c_str(),
                  pct(r["unsubscribe_rate"]).c_str(), count(r, "conversions"), r.value("revenue", 0.0));
}

}  // namespace

std::string csv_field(const nlohmann::json& value) {
  if (value.is_null()) return "";
  if (!value.is_string()) return value.dump();
  std::string out = "\"";
  for (char c : value.get<std::string>()) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string campaign_report_csv(const nlohmann::json& report) {
  std::string header, values;
  for (auto it = report.begin(); it != report.end(); ++it) {
    if (it->is_array() || it->is_object()) continue;
    header += (header.empty() ? "" : ",") + it.key();
    values += (values.empty() ? "" : ",") + csv_field(*it);
  }
  std::string out = header + "\n" + values + "\n";
  csv_section(out, "variants", "variant", report.value("variants", nlohmann::json()), kSliceColumns);
  csv_section(out, "domains", "domain", report.value("domains", nlohmann::json()), kSliceColumns);
  csv_section(out, "links", "", report.value("links", nlohmann::json()), kLinkColumns, false);
  csv_section(out, "hourly", "", report.value("hourly", nlohmann::json()), kHourlyColumns, false);
  return out;
}

std::string campaign_report_table(const nlohmann::json& r) {
  std::string out = format("campaign %s (%s)\n", text(r, "name").c_str(), text(r, "state").c_str());
  for (const char* key : {"recipients", "sent", "failed", "skipped", "queued", "delivered"})
    out += format("  %-14s %10lld\n", key, count(r, key));
  auto line = [&](const char* key, const char* rate) {
    out += format("  %-14s %10lld  %s\n", key, count(r, key), pct(r[rate]).c_str());
  };
  line("bounced", "bounce_rate");
  line("opened", "open_rate");
  out += format("  %-14s %10lld  %s  (click-to-open %s)\n", "clicked", count(r, "clicked"), pct(r["click_rate"]).c_str(),
                pct(r["click_to_open_rate"]).c_str());
  line("replied", "reply_rate");
  line("unsubscribed", "unsubscribe_rate");
  line("complained", "complaint_rate");
  out += format("  %-14s %10lld  revenue %.2f\n", "conversions", count(r, "conversions"), r.value("revenue", 0.0));
  out += format("  %-14s %10lld  (clicked, replied or converted)\n", "responses", count(r, "responses"));
  if (r.contains("cost") && r["cost"].is_number()) {
    out += format("  %-14s %10.2f\n", "cost", r["cost"].get<double>());
    if (r["cost_per_response"].is_number())
      out += format("  %-14s %10.2f\n", "cost/response", r["cost_per_response"].get<double>());
    else out += format("  %-14s %10s\n", "cost/response", "-");
  }
  out += format("  %-14s %10lld  (first purchase credited to this campaign)\n", "new customers",
                count(r, "new_customers"));
  table_slices(out, "by variant", "variant", r.value("variants", nlohmann::json()));
  table_slices(out, "by recipient domain", "domain", r.value("domains", nlohmann::json()));
  const auto links = r.value("links", nlohmann::json());
  if (links.is_array() && !links.empty()) {
    out += format("\nby link\n  %-48s %8s %8s %8s %8s %9s %9s\n", "URL", "CLICKERS", "CLICKS", "CLICK%", "SHARE%",
                  "CONV", "REVENUE");
    for (const auto& l : links)
      out += format("  %-48.48s %8lld %8lld %8s %8s %9lld %9.2f\n", text(l, "url").c_str(), count(l, "clickers"),
                    count(l, "clicks"), pct(l["click_rate"]).c_str(), pct(l["share_of_clickers"]).c_str(),
                    count(l, "conversions"), l.value("revenue", 0.0));
  }
  const auto hourly = r.value("hourly", nlohmann::json());
  if (hourly.is_array() && !hourly.empty()) {
    out += format("\nhour by hour (events; first-time contacts in brackets)\n  %-20s %14s %14s %14s %14s\n", "HOUR (UTC)",
                  "OPENED", "CLICKED", "REPLIED", "CONVERTED");
    auto cell = [](const nlohmann::json& h, const char* kind) {
      return format("%lld [%lld]", count(h, kind), count(h, ("first_" + std::string(kind)).c_str()));
    };
    for (const auto& h : hourly)
      out += format("  %-20s %14s %14s %14s %14s\n", text(h, "time").c_str(), cell(h, "opened").c_str(),
                    cell(h, "clicked").c_str(), cell(h, "replied").c_str(), cell(h, "converted").c_str());
  }
  return out;
}

std::string automation_report_csv(const nlohmann::json& a) {
  std::string out = "automation,step,campaign,queued,failed,skipped";
  for (const char* c : kSliceColumns) out += std::string(",") + c;
  out += "\n";
  for (const auto& s : a.value("steps", nlohmann::json::array())) {
    out += csv_field(a.value("name", "")) + "," + csv_field(s.value("step", 0)) + "," + csv_field(s.value("campaign", ""));
    for (const char* c : {"queued", "failed", "skipped"}) out += "," + csv_field(s.value(c, nlohmann::json(0)));
    for (const char* c : kSliceColumns) out += "," + csv_field(s.value(c, nlohmann::json()));
    out += "\n";
  }
  return out;
}

std::string automation_report_table(const nlohmann::json& a) {
  std::string out = format("automation %s (trigger %s)\n", text(a, "name").c_str(), text(a, "trigger").c_str());
  out += format("  enrolled %lld  active %lld  completed %lld  exited %lld\n", count(a, "enrolled"), count(a, "active"),
                count(a, "completed"), count(a, "exited"));
  out += format("  %-6s %-24s %8s %8s %8s %8s %8s %8s %8s %9s\n", "STEP", "SUBJECT", "SENT", "SKIPPED", "OPENED",
                "CLICKED", "REPLIED", "OPEN%", "CLICK%", "CONV");
  for (const auto& s : a.value("steps", nlohmann::json::array()))
    out += format("  %-6lld %-24.24s %8lld %8lld %8lld %8lld %8lld %8s %8s %9lld\n", count(s, "step"),
                  text(s, "subject").c_str(), count(s, "sent"), count(s, "skipped"), count(s, "opened"),
                  count(s, "clicked"), count(s, "replied"), pct(s.value("open_rate", nlohmann::json(0))).c_str(),
                  pct(s.value("click_rate", nlohmann::json(0))).c_str(), count(s, "conversions"));
  table_slices(out, "steps in detail", "campaign", a.value("steps", nlohmann::json::array()));
  return out;
}

}  // namespace campaignd::analytics
