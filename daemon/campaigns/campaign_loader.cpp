#include "daemon/campaigns/campaign_loader.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "daemon/campaigns/campaign_file.hpp"

namespace campaignd::campaigns {

namespace fs = std::filesystem;

nlohmann::json sample_contact_context() {
  return {{"email", "sample@example.com"},
          {"first_name", "Sam"},
          {"last_name", "Sample"},
          {"tags", nlohmann::json::array({"sample"})},
          {"campaign", "sample"},
          {"unsubscribe_url", "https://example.com/u/sample"}};
}

std::expected<std::optional<CheckedCampaign>, std::vector<PlacedError>> load_campaign(
    const std::string& path, const LoaderPaths& paths, const segments::RuleBook& rules, util::UnixTime now) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected(std::vector<PlacedError>{{{path, 0, 0}, "cannot read file"}});
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  PartialParse parsed = parse_campaign_partial(text, path);
  if (!parsed.readable) return std::unexpected(parsed.errors);
  if (std::holds_alternative<AutomationFile>(parsed.file)) return std::optional<CheckedCampaign>();
  Campaign campaign = std::get<Campaign>(std::move(parsed.file));

  // Go on checking what did parse, so one run of `validate` shows every problem.
  std::vector<PlacedError> errors = std::move(parsed.errors);
  if (!campaign.segment.empty())
    if (auto seg = rules.resolve(campaign.segment, now, campaign.segment_place); !seg) errors.push_back(seg.error());

  if (campaign.template_name.empty()) {
    if (!errors.empty()) return std::unexpected(errors);
    return std::unexpected(std::vector<PlacedError>{{{path, 1, 1}, "missing required key 'template'"}});
  }
  // The same checks for the campaign's templates and for each variant's.
  auto check_templates = [&](const std::string& template_name, const std::string& subject,
                             const SourcePlace& place, const std::string& what) -> std::optional<render::TemplateSet> {
    auto templates = render::TemplateSet::load(paths.templates_dir, template_name, subject, path);
    if (!templates) {
      errors.push_back({place, what + templates.error()});
    } else if (!templates->every_body_references("unsubscribe_url")) {
      // Bulk-sender rules (Gmail, Yahoo 2024) want a visible unsubscribe link in every body.
      errors.push_back({place, what + "template '" + template_name +
                                   "' must show {{unsubscribe_url}} in every part (html and text)"});
    } else if (auto rendered = templates->render(sample_contact_context()); !rendered) {
      errors.push_back({place, what + "template '" + template_name +
                                   "' does not render against a sample contact: " + rendered.error()});
    } else {
      return std::move(*templates);
    }
    return std::nullopt;
  };
  auto templates = check_templates(campaign.template_name, campaign.subject, campaign.template_place, "");
  std::map<std::string, render::TemplateSet> variant_templates;
  for (const auto& v : campaign.variants) {
    const SourcePlace& place = v.template_name ? v.template_place : v.place;
    auto t = check_templates(v.template_name.value_or(campaign.template_name), v.subject.value_or(campaign.subject),
                             place, "variant '" + v.name + "': ");
    if (t) variant_templates.emplace(v.name, std::move(*t));
  }
  if (!errors.empty()) return std::unexpected(errors);
  return std::optional<CheckedCampaign>(
      CheckedCampaign{std::move(campaign), std::move(*templates), std::move(variant_templates)});
}

FolderLoad load_folder(const std::string& campaigns_dir, const LoaderPaths& paths, util::UnixTime now) {
  FolderLoad out;
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(paths.rules_dir, rule_errors);
  out.errors = rule_errors;
  if (!rules) {
    out.errors.push_back({{paths.rules_dir, 0, 0}, rules.error()});
    return out;
  }
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(campaigns_dir, ec)) {
    auto ext = entry.path().extension().string();
    auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.starts_with(".")) continue;
    if (ext == ".yaml" || ext == ".yml") files.push_back(entry.path().string());
  }
  if (ec) {
    out.errors.push_back({{campaigns_dir, 0, 0}, "cannot read campaigns folder: " + ec.message()});
    return out;
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, std::string> seen;  // campaign name -> file
  for (const auto& file : files) {
    auto loaded = load_campaign(file, paths, *rules, now);
    if (!loaded) {
      out.errors.insert(out.errors.end(), loaded.error().begin(), loaded.error().end());
      continue;
    }
    if (!*loaded) {
      out.automation_files.push_back(file);
      continue;
    }
    const auto& name = (*loaded)->campaign.name;
    if (auto it = seen.find(name); it != seen.end()) {
      out.errors.push_back({{file, 1, 1}, "campaign name '" + name + "' is already used by " + it->second});
      continue;
    }
    seen[name] = file;
    out.campaigns.push_back(std::move(**loaded));
  }
  return out;
}

}  // namespace campaignd::campaigns
