// A campaign's subject, HTML and text templates, parsed once and rendered per recipient.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "daemon/util/result.hpp"

namespace campaignd::render {

struct RenderedContent {
  std::string subject;              // one line: control characters replaced, trimmed
  std::optional<std::string> html;  // present when the set has an HTML template
  std::optional<std::string> text;  // present when the set has a text template
};

// Thread-safety: after load, render() may be called concurrently from any number of threads on
// one TemplateSet (each call works on its own copy of the parsed templates, taken from a pool;
// nothing is re-parsed). Move-only; moving while another thread renders is not allowed.
//
// Escaping: {{var}} is HTML-escaped in the HTML part only; the subject and the text part are
// rendered without escaping. {{{var}}} / {{&var}} are never escaped. Values containing "{{" are
// output literally, never interpreted.
class TemplateSet {
 public:
  // Reads `<templates_dir>/<template_name>.html.mustache` and/or `.txt.mustache` (at least one
  // must exist) and parses them and `subject_source`. The name may not hold a path (see
  // is_valid_template_name). Partials `{{> p}}` come from `<templates_dir>/partials/p.mustache`,
  // spliced in at load time. Template errors read "file:line:col: message"; errors in the
  // subject and a missing template are prefixed with origin_for_errors (e.g. the campaign
  // file's "path:line:col").
  static Result<TemplateSet> load(const std::string& templates_dir, const std::string& template_name,
                                  const std::string& subject_source, const std::string& origin_for_errors);

  // The same from text held in memory (built-in mails such as the opt-in confirmation, tests).
  // No partials. At least one of html and text must be given.
  static Result<TemplateSet> from_strings(const std::string& subject_source, std::optional<std::string> html,
                                          std::optional<std::string> text, const std::string& origin_for_errors);

  // Renders all parts with `context` (an object: strings, numbers, bools, null, arrays and nested
  // objects). Numbers print naturally: 3, 2.5, -7, 1e+21. null and false are falsy sections.
  Result<RenderedContent> render(const nlohmann::json& context) const;

  bool has_html() const;
  bool has_text() const;
  // True when every body part present refers to `name` as a variable or section, e.g. to check
  // that a marketing template shows its {{unsubscribe_url}}.
  bool every_body_references(std::string_view name) const;
  // Where the parts were read from ("" for an absent part or one held in memory).
  const std::string& html_path() const;
  const std::string& text_path() const;

  TemplateSet(TemplateSet&&) noexcept;
  TemplateSet& operator=(TemplateSet&&) noexcept;
  ~TemplateSet();

 private:
  struct Impl;
  friend struct TemplateSetBuilder;
  explicit TemplateSet(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace campaignd::render
