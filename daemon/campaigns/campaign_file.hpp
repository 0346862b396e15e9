// Reads a campaign file (campaigns_dir/*.yaml) into a Campaign, with file:line:col errors.
// Checks only what the file itself says; campaign_validator.hpp checks it against
// templates and rules.
#pragma once

#include <expected>
#include <string>
#include <variant>
#include <vector>

#include "daemon/campaigns/campaign.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::campaigns {

// Files with a `trigger:` key are automations (a later part of the engine), not campaigns.
struct AutomationFile {
  std::string name;
  std::string file;
};

using CampaignFile = std::variant<Campaign, AutomationFile>;

// Never throws: every problem found is returned, each with its place.
std::expected<CampaignFile, std::vector<PlacedError>> parse_campaign_file(const std::string& path);
std::expected<CampaignFile, std::vector<PlacedError>> parse_campaign_text(const std::string& text,
                                                                         const std::string& path);

}  // namespace campaignd::campaigns
