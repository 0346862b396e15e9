// Reads an automation file (campaigns_dir/*.yaml with a `trigger:` key) into an Automation,
// with file:line:col errors. Checks only what the file itself says; automation_loader.hpp
// checks it against templates and rules.
#pragma once

#include <expected>
#include <string>
#include <vector>

#include "daemon/automation/automation.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::automation {

// Never throws: every problem found is returned, each with its place.
std::expected<Automation, std::vector<PlacedError>> parse_automation_text(const std::string& text,
                                                                         const std::string& path);
std::expected<Automation, std::vector<PlacedError>> parse_automation_file(const std::string& path);

// "subscribed", "clicked:https://…", "date:birthday-7d", … as the file's `trigger:` says;
// nullopt with `error` set when malformed.
std::optional<Trigger> parse_trigger(const std::string& text, std::string& error);

}  // namespace campaignd::automation
