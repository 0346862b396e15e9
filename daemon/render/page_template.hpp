// An HTML page the daemon serves to people (unsubscribe, preferences, confirmations), from
// templates_dir/NAME.html.mustache, parsed once. When the file is missing, a plain built-in
// page stands in so a custom templates folder never breaks an unsubscribe link.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "daemon/render/template_set.hpp"

namespace campaignd::render {

class PageTemplate {
 public:
  // `fallback_html` is a Mustache source used when the file does not exist; a file that exists
  // but does not parse is an error.
  static Result<PageTemplate> load(const std::string& templates_dir, const std::string& name,
                                   const std::string& fallback_html);
  std::string render(const nlohmann::json& context) const;

 private:
  explicit PageTemplate(TemplateSet t) : template_(std::move(t)) {}
  TemplateSet template_;
};

}  // namespace campaignd::render
