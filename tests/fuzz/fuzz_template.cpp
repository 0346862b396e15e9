// Fuzz target: Mustache templates (subject, HTML and text parts) loaded and rendered with a
// context that holds every JSON type and values that look like markup or template tags.
// Input layout: subject NUL html NUL text; a part left out (fewer NULs) is absent, an empty
// part is present and empty.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/render/template_set.hpp"

using namespace campaignd;

namespace {

const nlohmann::json& context() {
  static const nlohmann::json ctx = nlohmann::json::parse(R"json({
    "first_name": "Zoë", "last_name": "<b>O'Brien & \"Co\"</b>", "email": "zoe@example.com",
    "orders": 3, "amount": 2.5, "big": 1e21, "negative": -7, "vip": true, "opted_out": false,
    "nothing": null, "empty": "", "injected": "{{first_name}}{{#vip}}x{{/vip}}",
    "crlf": "line\r\nBcc: evil@example.com",
    "items": [{"name": "Kettle", "price": 25}, {"name": "Mug", "price": 7.5}], "tags": ["a", "b"],
    "address": {"city": "Québec", "country": "CA"},
    "unsubscribe_url": "https://example.com/u/abc", "view_url": "https://example.com/v/abc"
  })json");
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (parts.size() < 2) {
    std::size_t nul = input.find('\0', start);
    if (nul == std::string_view::npos) break;
    parts.emplace_back(input.substr(start, nul - start));
    start = nul + 1;
  }
  parts.emplace_back(input.substr(start));

  const std::string subject = parts[0];
  std::optional<std::string> html = parts.size() > 1 ? std::optional(parts[1]) : std::nullopt;
  std::optional<std::string> text = parts.size() > 2 ? std::optional(parts[2]) : std::nullopt;
  if (!html && !text) text = std::string("body");  // from_strings needs a body part

  auto set = render::TemplateSet::from_strings(subject, html, text, "fuzz.yaml:1:1");
  if (!set) {
    if (set.error().empty()) std::abort();
    return 0;
  }
  if (set->has_html() != html.has_value() || set->has_text() != text.has_value()) std::abort();
  (void)set->every_body_references("unsubscribe_url");

  auto rendered = set->render(context());
  if (!rendered) return 0;
  // The subject becomes a header line: a line break in it would let a value inject headers.
  if (rendered->subject.find_first_of("\r\n") != std::string::npos) std::abort();
  if (rendered->html.has_value() != html.has_value() || rendered->text.has_value() != text.has_value()) std::abort();
  return 0;
}
