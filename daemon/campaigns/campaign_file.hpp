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

// What a file says, as far as it could be read, and every problem found in it. When `errors`
// is empty, `file` is complete; otherwise the fields that did parse are filled in, so callers
// can go on checking them (a bad `from:` shouldn't hide a bad segment).
struct PartialParse {
  CampaignFile file;
  std::vector<PlacedError> errors;
  bool readable = true;  // false: not YAML or not a mapping; `file` holds nothing useful
};
PartialParse parse_campaign_partial(const std::string& text, const std::string& path);

// Never throws: every problem found is returned, each with its place.
std::expected<CampaignFile, std::vector<PlacedError>> parse_campaign_file(const std::string& path);
std::expected<CampaignFile, std::vector<PlacedError>> parse_campaign_text(const std::string& text,
                                                                         const std::string& path);

}  // namespace campaignd::campaigns
