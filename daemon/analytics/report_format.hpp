// `campaignd report` as text: a campaign report (to_json(CampaignReport)) or an automation report
// as a terminal table or as CSV. JSON output is the report's to_json itself.
//
// CSV: the first two lines are the campaign's scalar figures (header, values), as before the
// breakdowns existed; then each breakdown follows after an empty line, as its own header and
// rows whose first column names it: `variants`, `domains`, `links`, `hourly`. Text fields are
// quoted with "" doubled (RFC 4180).
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace campaignd::analytics {

std::string campaign_report_table(const nlohmann::json& report);
std::string campaign_report_csv(const nlohmann::json& report);
// An automation report (AutomationEngine::report, each step carrying its funnel's keys).
std::string automation_report_table(const nlohmann::json& report);
std::string automation_report_csv(const nlohmann::json& report);

// One CSV field: numbers as JSON writes them, text quoted, null empty.
std::string csv_field(const nlohmann::json& value);

}  // namespace campaignd::analytics
