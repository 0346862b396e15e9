#include "daemon/render/page_template.hpp"

#include <filesystem>

namespace campaignd::render {

Result<PageTemplate> PageTemplate::load(const std::string& templates_dir, const std::string& name,
                                        const std::string& fallback_html) {
  auto path = std::filesystem::path(templates_dir) / (name + ".html.mustache");
  if (std::filesystem::exists(path)) {
    auto t = TemplateSet::load(templates_dir, name, "page", path.string());
    if (!t) return std::unexpected(t.error());
    return PageTemplate(std::move(*t));
  }
  auto t = TemplateSet::from_strings("page", fallback_html, std::nullopt, "built-in " + name);
  if (!t) return std::unexpected(t.error());
  return PageTemplate(std::move(*t));
}

std::string PageTemplate::render(const nlohmann::json& context) const {
  auto r = template_.render(context);
  if (!r || !r->html) return "<!doctype html><meta charset=utf-8><title>Error</title><p>This page could not be shown.</p>";
  return *r->html;
}

}  // namespace campaignd::render
