// Reads Mustache template text, checks its syntax and splices its partials in, so a campaign's
// templates are parsed once and nothing is looked up on disk or in contact data at render time.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "daemon/util/result.hpp"

namespace campaignd::render {

// A template or partial name: letters, digits, '_', '-' and inner single dots, at most 100
// characters. No '/', no "..", no leading dot, nothing absolute: a name can only ever select a
// file directly inside the templates folder (or its partials/ folder).
bool is_valid_template_name(std::string_view name);

struct TemplateSource {
  std::string text;             // partial tags replaced by the partials' own (expanded) text
  std::set<std::string> names;  // variable and section names the text refers to, partials included
};

// Checks the syntax of `text` with kainjow's own parser and replaces each `{{> name}}` by the
// text of `<templates_dir>/partials/<name>.mustache` (recursively, standalone tags indented as
// the Mustache spec says). An empty templates_dir forbids partials. Errors read
// "file:line:col: message", naming the file (template or partial) where the fault is.
Result<TemplateSource> expand_template(std::string_view text, const std::string& file,
                                       const std::string& templates_dir);

// The same for a file on disk; an unreadable file is an error naming its path.
Result<TemplateSource> read_template_file(const std::string& path, const std::string& templates_dir);

// kainjow reports "message at OFFSET"; this turns it into "file:line:col: message".
std::string place_kainjow_error(std::string_view kainjow_message, std::string_view text,
                                const std::string& file);

}  // namespace campaignd::render
