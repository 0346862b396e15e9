// Validation of parsed automations against templates and segment rules.
#include "daemon/automation/automation_loader.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>

#include "daemon/automation/automation_file.hpp"
#include "daemon/campaigns/campaign_loader.hpp"

namespace campaignd::automation {

std::expected<CheckedAutomation, std::vector<PlacedError>> load_automation(const std::string& path,
                                                                          const std::string& templates_dir,
                                                                          const segments::RuleBook& rules,
                                                                          util::UnixTime now) {
  auto parsed = parse_automation_file(path);
  if (!parsed) return std::unexpected(parsed.error());
  CheckedAutomation out{std::move(*parsed), {}};
  const Automation& a = out.automation;
  std::vector<PlacedError> errors;
  if (a.condition)
    if (auto seg = rules.resolve(*a.condition, now, a.condition_place); !seg) errors.push_back(seg.error());
  if (a.trigger.kind == TriggerKind::joined_segment)
    if (auto seg = rules.resolve(a.trigger.arg, now, a.trigger.place); !seg) errors.push_back(seg.error());

  auto sample = campaigns::sample_contact_context();
  for (const Step& step : a.steps) {
    auto templates = render::TemplateSet::load(templates_dir, step.template_name, step.subject, path);
    if (!templates) {
      errors.push_back({step.template_place, templates.error()});
      continue;
    }
    if (!templates->every_body_references("unsubscribe_url")) {
      // Suppression and opt-out rules apply to automation mail exactly as to campaigns.
      errors.push_back({step.template_place, "template '" + step.template_name +
                                                 "' must show {{unsubscribe_url}} in every part (html and text)"});
      continue;
    }
    if (auto rendered = templates->render(sample); !rendered) {
      errors.push_back({step.template_place, "template '" + step.template_name +
                                                 "' does not render against a sample contact: " + rendered.error()});
      continue;
    }
    out.step_templates.push_back(std::move(*templates));
  }
  if (!errors.empty()) return std::unexpected(std::move(errors));
  return out;
}

std::vector<std::string> find_automation_files(const std::string& campaigns_dir) {
  namespace fs = std::filesystem;
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(campaigns_dir, ec)) {
    auto ext = entry.path().extension().string();
    auto name = entry.path().filename().string();
    if (!entry.is_regular_file() || name.starts_with(".") || (ext != ".yaml" && ext != ".yml")) continue;
    try {
      YAML::Node root = YAML::LoadFile(entry.path().string());
      if (root.IsMap() && root["trigger"]) files.push_back(entry.path().string());
    } catch (const YAML::Exception&) {
      // Not ours to report: the campaign loader names the place of the syntax error.
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace campaignd::automation
