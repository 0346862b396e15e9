// `campaignd validate FILE...`: campaign, rule and template files, checked offline with the
// same code the daemon uses; one `file:line:col: message` line per error.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "daemon/automation/automation_loader.hpp"
#include "daemon/campaigns/campaign_loader.hpp"
#include "daemon/cli/commands.hpp"
#include "daemon/render/template_set.hpp"
#include "daemon/segments/rule_book.hpp"
#include "daemon/tracking/webhooks/webhook_service.hpp"

namespace campaignd::cli {

namespace fs = std::filesystem;

namespace {

enum class FileKind { campaign, automation, rule, template_file, webhook, unknown };

FileKind kind_of(const std::string& path) {
  if (path.ends_with(".mustache")) return FileKind::template_file;
  if (!path.ends_with(".yaml") && !path.ends_with(".yml")) return FileKind::unknown;
  std::ifstream in(path);
  std::string line;
  bool has_segment = false, has_subject = false, has_signature = false, has_events = false, has_trigger = false;
  while (std::getline(in, line)) {
    if (line.starts_with("signature:")) has_signature = true;
    if (line.starts_with("trigger:")) has_trigger = true;
    if (line.starts_with("events:")) has_events = true;
    if (line.starts_with("subject:") || line.starts_with("from:") || line.starts_with("template:") ||
        line.starts_with("trigger:"))
      has_subject = true;
    if (line.starts_with("segment:")) has_segment = true;
  }
  if (has_signature && has_events) return FileKind::webhook;
  if (has_trigger) return FileKind::automation;
  if (has_segment && !has_subject) return FileKind::rule;
  return FileKind::campaign;
}

}  // namespace

int cmd_validate(const Args& args) {
  if (args.positional.empty()) {
    std::cerr << "usage: campaignd validate FILE...\n";
    return Exit::user_error;
  }
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  util::SystemClock clock;
  campaigns::LoaderPaths paths{cfg->resolve(cfg->templates_dir), cfg->resolve(cfg->rules_dir)};
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(paths.rules_dir, rule_errors);

  int bad_files = 0;
  for (const auto& file : args.positional) {
    std::vector<PlacedError> errors;
    if (!fs::exists(file)) {
      errors.push_back({{file, 0, 0}, "no such file"});
    } else {
      switch (kind_of(file)) {
        case FileKind::template_file: {
          auto name = fs::path(file).filename().string();
          name = name.substr(0, name.find('.'));
          auto dir = fs::path(file).parent_path().string();
          auto t = render::TemplateSet::load(dir.empty() ? "." : dir, name, "subject", file);
          if (!t) errors.push_back({{file, 0, 0}, t.error()});
          else if (auto r = t->render(campaigns::sample_contact_context()); !r) errors.push_back({{file, 0, 0}, r.error()});
          break;
        }
        case FileKind::automation:
          if (!rules) {
            errors.push_back({{paths.rules_dir, 0, 0}, rules.error()});
          } else if (auto loaded = automation::load_automation(file, paths.templates_dir, *rules, clock.now()); !loaded) {
            errors = loaded.error();
          }
          break;
        case FileKind::webhook:
          (void)tracking::webhooks::validate_file(file, errors);
          break;
        case FileKind::rule:
          (void)segments::RuleBook::validate_file(file, errors);
          break;
        case FileKind::campaign:
          if (!rules) {
            errors.push_back({{paths.rules_dir, 0, 0}, rules.error()});
          } else if (auto loaded = campaigns::load_campaign(file, paths, *rules, clock.now()); !loaded) {
            errors = loaded.error();
          }
          break;
        case FileKind::unknown:
          errors.push_back({{file, 0, 0}, "not a campaign, rule, webhook or template file (.yaml, .yml, .mustache)"});
          break;
      }
    }
    for (const auto& e : errors) std::cerr << e.to_string() << "\n";
    if (errors.empty()) std::cout << file << ": ok\n";
    else ++bad_files;
  }
  return bad_files == 0 ? Exit::ok : Exit::user_error;
}

}  // namespace campaignd::cli
