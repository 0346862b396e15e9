// TemplateSet: kainjow Mustache behind a pimpl, parsed at load, copied (never re-parsed) per render.
#include "daemon/render/template_set.hpp"

#include <kainjow/mustache.hpp>

#include <charconv>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "daemon/render/template_source.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::render {

namespace {

namespace km = kainjow::mustache;

// Several pooled copies cover the worker threads; more than this are dropped after use.
constexpr size_t kMaxPooled = 32;

// The parsed templates one render needs. kainjow's render() is not const (it records errors and
// walks its tree through non-const references), so each concurrent render gets its own copy.
struct Compiled {
  km::mustache subject;
  std::optional<km::mustache> html;
  std::optional<km::mustache> text;
};

std::string format_number(double value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);  // shortest form that reads back
  if (ec != std::errc()) return std::to_string(value);
  return std::string(buf, end);
}

km::data to_data(const nlohmann::json& j) {
  using T = nlohmann::json::value_t;
  switch (j.type()) {
    case T::object: {
      km::data d{km::data::type::object};
      for (const auto& [key, value] : j.items()) d.set(key, to_data(value));
      return d;
    }
    case T::array: {
      km::data d{km::data::type::list};
      for (const auto& item : j) d.push_back(to_data(item));
      return d;
    }
    case T::string:
      return km::data{j.get_ref<const std::string&>()};
    case T::boolean:
      return km::data{j.get<bool>()};
    case T::number_integer:
      return km::data{std::to_string(j.get<std::int64_t>())};
    case T::number_unsigned:
      return km::data{std::to_string(j.get<std::uint64_t>())};
    case T::number_float:
      return km::data{format_number(j.get<double>())};
    default:  // null, binary, discarded
      return km::data{false};
  }
}

std::string identity(const std::string& s) { return s; }

Result<km::mustache> parse(const TemplateSource& source, const std::string& file, bool html_escape) {
  km::mustache m{source.text};
  if (!m.is_valid()) return fail(place_kainjow_error(m.error_message(), source.text, file + " (with partials)"));
  if (!html_escape) m.set_custom_escape(identity);
  return m;
}

}  // namespace

struct TemplateSet::Impl {
  explicit Impl(Compiled m) : master(std::move(m)) {}

  Compiled master;
  std::set<std::string> html_names;
  std::set<std::string> text_names;
  std::string html_path;
  std::string text_path;

  mutable std::mutex pool_mutex;
  mutable std::vector<std::unique_ptr<Compiled>> pool;  // guarded by pool_mutex

  std::unique_ptr<Compiled> acquire() const {
    {
      std::lock_guard lock(pool_mutex);
      if (!pool.empty()) {
        auto c = std::move(pool.back());
        pool.pop_back();
        return c;
      }
    }
    return std::make_unique<Compiled>(master);  // master is only ever read after load
  }

  void release(std::unique_ptr<Compiled> c) const {
    std::lock_guard lock(pool_mutex);
    if (pool.size() < kMaxPooled) pool.push_back(std::move(c));
  }
};

TemplateSet::TemplateSet(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TemplateSet::TemplateSet(TemplateSet&&) noexcept = default;
TemplateSet& TemplateSet::operator=(TemplateSet&&) noexcept = default;
TemplateSet::~TemplateSet() = default;

struct TemplateSetBuilder {
  struct Part {
    TemplateSource source;
    std::string file;  // "" when held in memory
  };
  static Result<TemplateSet> assemble(const std::string& subject_source, std::optional<Part> html,
                                      std::optional<Part> text, const std::string& origin);
};

using Part = TemplateSetBuilder::Part;

Result<TemplateSet> TemplateSet::from_strings(const std::string& subject_source, std::optional<std::string> html,
                                              std::optional<std::string> text, const std::string& origin_for_errors) {
  if (!html && !text) return fail(origin_for_errors + ": a message needs an HTML or a text template");
  std::optional<Part> html_part, text_part;
  if (html) {
    auto src = expand_template(*html, origin_for_errors + " (html)", "");
    if (!src) return fail(src.error());
    html_part = Part{std::move(*src), ""};
  }
  if (text) {
    auto src = expand_template(*text, origin_for_errors + " (text)", "");
    if (!src) return fail(src.error());
    text_part = Part{std::move(*src), ""};
  }
  return TemplateSetBuilder::assemble(subject_source, std::move(html_part), std::move(text_part), origin_for_errors);
}

Result<TemplateSet> TemplateSet::load(const std::string& templates_dir, const std::string& template_name,
                                      const std::string& subject_source, const std::string& origin_for_errors) {
  if (!is_valid_template_name(template_name))
    return fail(origin_for_errors + ": invalid template name \"" + util::strip_controls(template_name) +
                "\" (letters, digits, '_', '-', '.'; no paths)");
  const std::string html_file = templates_dir + "/" + template_name + ".html.mustache";
  const std::string text_file = templates_dir + "/" + template_name + ".txt.mustache";
  std::error_code ec;
  const bool html_exists = std::filesystem::is_regular_file(html_file, ec);
  const bool text_exists = std::filesystem::is_regular_file(text_file, ec);
  if (!html_exists && !text_exists)
    return fail(origin_for_errors + ": template \"" + template_name + "\" not found (looked for " + html_file +
                " and " + text_file + ")");

  std::optional<Part> html, text;
  if (html_exists) {
    auto src = read_template_file(html_file, templates_dir);
    if (!src) return fail(src.error());
    html = Part{std::move(*src), html_file};
  }
  if (text_exists) {
    auto src = read_template_file(text_file, templates_dir);
    if (!src) return fail(src.error());
    text = Part{std::move(*src), text_file};
  }
  return TemplateSetBuilder::assemble(subject_source, std::move(html), std::move(text), origin_for_errors);
}

Result<TemplateSet> TemplateSetBuilder::assemble(const std::string& subject_source, std::optional<Part> html,
                                                std::optional<Part> text, const std::string& origin) {
  auto subject_src = expand_template(subject_source, "subject", "");
  if (!subject_src) return fail(origin + ": " + subject_src.error());
  auto subject = parse(*subject_src, "subject", false);
  if (!subject) return fail(origin + ": " + subject.error());

  auto impl = std::make_unique<TemplateSet::Impl>(Compiled{std::move(*subject), {}, {}});
  if (html) {
    auto m = parse(html->source, html->file.empty() ? origin + " (html)" : html->file, true);
    if (!m) return fail(m.error());
    impl->master.html = std::move(*m);
    impl->html_names = std::move(html->source.names);
    impl->html_path = html->file;
  }
  if (text) {
    auto m = parse(text->source, text->file.empty() ? origin + " (text)" : text->file, false);
    if (!m) return fail(m.error());
    impl->master.text = std::move(*m);
    impl->text_names = std::move(text->source.names);
    impl->text_path = text->file;
  }
  return TemplateSet(std::move(impl));
}

Result<RenderedContent> TemplateSet::render(const nlohmann::json& context) const {
  if (!context.is_object()) return fail("render context must be a JSON object");
  const km::data data = to_data(context);
  auto compiled = impl_->acquire();
  RenderedContent out;
  out.subject = compiled->subject.render(data);
  bool ok = compiled->subject.is_valid();
  if (ok && compiled->html) {
    out.html = compiled->html->render(data);
    ok = compiled->html->is_valid();
  }
  if (ok && compiled->text) {
    out.text = compiled->text->render(data);
    ok = compiled->text->is_valid();
  }
  if (!ok) return fail("template render failed");  // the copy carries the error: not pooled again
  impl_->release(std::move(compiled));
  out.subject = std::string(util::trim(util::strip_controls(out.subject)));
  return out;
}

bool TemplateSet::has_html() const { return impl_->master.html.has_value(); }
bool TemplateSet::has_text() const { return impl_->master.text.has_value(); }

bool TemplateSet::every_body_references(std::string_view name) const {
  const std::string key(name);
  if (has_html() && !impl_->html_names.contains(key)) return false;
  if (has_text() && !impl_->text_names.contains(key)) return false;
  return true;
}

const std::string& TemplateSet::html_path() const { return impl_->html_path; }
const std::string& TemplateSet::text_path() const { return impl_->text_path; }

}  // namespace campaignd::render
