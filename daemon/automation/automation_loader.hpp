// Checks automation files against the templates and rules they name, the way the campaign
// loader checks campaigns: every step's template exists, shows {{unsubscribe_url}} in every
// part and renders against a sample contact; the condition and a joined_segment rule compile.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "daemon/automation/automation.hpp"
#include "daemon/render/template_set.hpp"
#include "daemon/segments/rule_book.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::automation {

struct CheckedAutomation {
  Automation automation;
  std::vector<render::TemplateSet> step_templates;  // one per step, in order
};

std::expected<CheckedAutomation, std::vector<PlacedError>> load_automation(const std::string& path,
                                                                          const std::string& templates_dir,
                                                                          const segments::RuleBook& rules,
                                                                          util::UnixTime now);

// The *.yaml / *.yml files of `campaigns_dir` (name order) whose top level has a `trigger:` key.
// Files that are not YAML mappings are left to the campaign loader, which reports them.
std::vector<std::string> find_automation_files(const std::string& campaigns_dir);

}  // namespace campaignd::automation
