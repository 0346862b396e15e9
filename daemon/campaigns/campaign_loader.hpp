// Loads every campaign file of a folder and checks each against the templates and rules it
// names: the template exists and renders against a sample contact, the segment compiles, the
// addresses are valid. `campaignd validate` runs the same checks offline.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/campaigns/campaign.hpp"
#include "daemon/render/template_set.hpp"
#include "daemon/segments/rule_book.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::campaigns {

struct CheckedCampaign {
  Campaign campaign;
  render::TemplateSet templates;
  std::map<std::string, render::TemplateSet> variant_templates;  // by variant name, every variant
};

struct FolderLoad {
  std::vector<CheckedCampaign> campaigns;
  std::vector<std::string> automation_files;  // recognised, run by the automation engine
  std::vector<PlacedError> errors;
};

// Who loads: the leader records what it loads in the store; a follower (another node on the
// same PostgreSQL) only reads what the leader recorded.
enum class LoadRole { leader, follower };

struct LoaderPaths {
  std::string templates_dir;
  std::string rules_dir;
};

// Parses and checks one campaign file; errors carry file:line:col.
std::expected<std::optional<CheckedCampaign>, std::vector<PlacedError>> load_campaign(
    const std::string& path, const LoaderPaths& paths, const segments::RuleBook& rules, util::UnixTime now);

// Every *.yaml / *.yml in `campaigns_dir`, in name order. Two files with one campaign name:
// the second is an error.
FolderLoad load_folder(const std::string& campaigns_dir, const LoaderPaths& paths, util::UnixTime now);

// The contact templates are rendered against during validation.
nlohmann::json sample_contact_context();

}  // namespace campaignd::campaigns
