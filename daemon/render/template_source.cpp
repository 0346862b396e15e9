// Template text before kainjow sees it for good: syntax check with a placed error, and partials
// spliced in at load time (kainjow would otherwise re-parse each partial on every render, and
// would look partial names up in the render data, i.e. in contact fields).
#include "daemon/render/template_source.hpp"

#include <kainjow/mustache.hpp>

#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

#include "daemon/util/source_place.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::render {

namespace {

constexpr int kMaxPartialDepth = 8;
constexpr std::string_view kDefaultBegin = "{{";
constexpr std::string_view kDefaultEnd = "}}";

struct Delimiters {
  std::string begin{kDefaultBegin};
  std::string end{kDefaultEnd};
  bool is_default() const { return begin == kDefaultBegin && end == kDefaultEnd; }
};

// One tag as kainjow's parser would cut it; the text is already known to parse.
struct Tag {
  size_t start = 0;  // offset of the opening delimiter
  size_t end = 0;    // one past the closing delimiter
  char kind = 'v';   // v & # ^ / > ! =
  std::string name;
  Delimiters delims;  // in force where the tag starts
};

SourcePlace place_of(std::string_view text, size_t offset, const std::string& file) {
  SourcePlace place{file, 1, 1};
  if (offset > text.size()) offset = text.size();
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++place.line;
      place.col = 1;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++place.col;  // columns count characters, not UTF-8 continuation bytes
    }
  }
  return place;
}

std::string placed(std::string_view text, size_t offset, const std::string& file, std::string message) {
  return PlacedError{place_of(text, offset, file), std::move(message)}.to_string();
}

bool parse_set_delimiters(std::string_view contents, Delimiters& d) {
  if (contents.size() < 5 || contents.back() != '=') return false;
  std::string_view inner = util::trim(contents.substr(1, contents.size() - 2));
  size_t space = inner.find(' ');
  if (space == std::string_view::npos) return false;
  d.begin = std::string(inner.substr(0, space));
  d.end = std::string(util::trim(inner.substr(space + 1)));
  return !d.begin.empty() && !d.end.empty();
}

// Mirrors kainjow's tokenizer (mustache.hpp, parser::parse) for text it has already accepted.
std::vector<Tag> scan_tags(std::string_view text, Delimiters& d) {
  std::vector<Tag> tags;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t start = text.find(d.begin, pos);
    if (start == std::string_view::npos) break;
    size_t contents_at = start + d.begin.size();
    bool triple = d.is_default() && contents_at < text.size() && text[contents_at] == '{';
    if (triple) ++contents_at;
    std::string_view closing = triple ? std::string_view("}}}") : std::string_view(d.end);
    size_t close = text.find(closing, contents_at);
    if (close == std::string_view::npos) break;
    std::string_view contents = util::trim(text.substr(contents_at, close - contents_at));
    Tag tag{start, close + closing.size(), 'v', {}, d};
    if (triple) {
      tag.kind = '&';
      tag.name = std::string(contents);
    } else if (!contents.empty() && contents.front() == '=') {
      tag.kind = '=';
      parse_set_delimiters(contents, d);
    } else if (!contents.empty() && std::string_view("#^/>&!").find(contents.front()) != std::string_view::npos) {
      tag.kind = contents.front();
      tag.name = std::string(util::trim(contents.substr(1)));
    } else {
      tag.name = std::string(contents);
    }
    tags.push_back(std::move(tag));
    pos = tags.back().end;
  }
  return tags;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path + ": cannot read template file");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return fail(path + ": cannot read template file");
  return ss.str();
}

// Prefixes every line of `text` with `indent` (standalone partials, Mustache spec "Partials").
std::string indent_lines(std::string_view text, std::string_view indent) {
  if (indent.empty()) return std::string(text);
  std::string out;
  bool at_line_start = true;
  for (char c : text) {
    if (at_line_start) out += indent;
    out += c;
    at_line_start = (c == '\n');
  }
  return out;
}

Result<TemplateSource> expand(std::string_view text, const std::string& file, const std::string& templates_dir,
                              std::vector<std::string>& chain, Delimiters& final_delims);

// Where a partial tag stands alone on its line, the whole line (indent and newline) is replaced.
struct Splice {
  size_t from;
  size_t to;
  std::string indent;
};

Splice splice_range(std::string_view text, const Tag& tag) {
  size_t line_start = tag.start;
  while (line_start > 0 && text[line_start - 1] != '\n') --line_start;
  std::string_view before = text.substr(line_start, tag.start - line_start);
  if (before.find_first_not_of(" \t") != std::string_view::npos) return {tag.start, tag.end, {}};
  size_t after = tag.end;
  while (after < text.size() && (text[after] == ' ' || text[after] == '\t')) ++after;
  if (after == text.size()) return {line_start, after, std::string(before)};
  if (text[after] == '\n') return {line_start, after + 1, std::string(before)};
  if (text.compare(after, 2, "\r\n") == 0) return {line_start, after + 2, std::string(before)};
  return {tag.start, tag.end, {}};
}

Result<TemplateSource> expand(std::string_view text, const std::string& file, const std::string& templates_dir,
                              std::vector<std::string>& chain, Delimiters& final_delims) {
  kainjow::mustache::mustache check{std::string(text)};
  if (!check.is_valid()) return fail(place_kainjow_error(check.error_message(), text, file));

  TemplateSource out;
  Delimiters delims;
  size_t copied = 0;
  for (const Tag& tag : scan_tags(text, delims)) {
    switch (tag.kind) {
      case 'v': case '&': case '#': case '^':
        out.names.insert(tag.name);
        if (auto dot = tag.name.find('.'); dot != std::string::npos && dot > 0) out.names.insert(tag.name.substr(0, dot));
        break;
      default:
        break;
    }
    if (tag.kind != '>') continue;
    if (templates_dir.empty())
      return fail(placed(text, tag.start, file, "partials are not allowed here (\"" + tag.name + "\")"));
    if (!is_valid_template_name(tag.name))
      return fail(placed(text, tag.start, file,
                         "invalid partial name \"" + tag.name + "\" (letters, digits, '_', '-', '.'; no paths)"));
    for (const auto& open : chain)
      if (open == tag.name)
        return fail(placed(text, tag.start, file, "partial \"" + tag.name + "\" includes itself"));
    if (static_cast<int>(chain.size()) >= kMaxPartialDepth)
      return fail(placed(text, tag.start, file, "partials nested deeper than " + std::to_string(kMaxPartialDepth)));
    std::string partial_path = templates_dir + "/partials/" + tag.name + ".mustache";
    auto partial_text = read_file(partial_path);
    if (!partial_text)
      return fail(placed(text, tag.start, file, "partial \"" + tag.name + "\" not found (looked for " + partial_path + ")"));
    chain.push_back(tag.name);
    Delimiters partial_final;
    auto partial = expand(*partial_text, partial_path, templates_dir, chain, partial_final);
    chain.pop_back();
    if (!partial) return partial;
    out.names.insert(partial->names.begin(), partial->names.end());

    Splice s = splice_range(text, tag);
    out.text.append(text.substr(copied, s.from - copied));
    // A partial is written with the default delimiters whatever its includer uses at that point,
    // and must not leave its own delimiter changes behind.
    const Delimiters& here = tag.delims;
    if (!here.is_default()) out.text += here.begin + "={{ }}=" + here.end;
    out.text += indent_lines(partial->text, s.indent);
    if (partial_final.begin != here.begin || partial_final.end != here.end)
      out.text += partial_final.begin + "=" + here.begin + " " + here.end + "=" + partial_final.end;
    copied = s.to;
  }
  out.text.append(text.substr(copied));
  final_delims = delims;
  return out;
}

}  // namespace

bool is_valid_template_name(std::string_view name) {
  if (name.empty() || name.size() > 100 || name.front() == '.' || name.back() == '.') return false;
  if (name.find("..") != std::string_view::npos) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (!std::isalnum(u) && c != '_' && c != '-' && c != '.') return false;
  }
  return true;
}

std::string place_kainjow_error(std::string_view kainjow_message, std::string_view text, const std::string& file) {
  std::string message(kainjow_message);
  size_t offset = std::string::npos;
  if (auto at = message.rfind(" at "); at != std::string::npos) {
    long long n = 0;
    if (util::parse_int(std::string_view(message).substr(at + 4), n) && n >= 0) {
      offset = static_cast<size_t>(n);
      message.erase(at);
    }
  }
  if (!message.empty()) message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  if (offset == std::string::npos) return file + ": " + message;
  return placed(text, offset, file, message);
}

Result<TemplateSource> expand_template(std::string_view text, const std::string& file, const std::string& templates_dir) {
  std::vector<std::string> chain;
  Delimiters final_delims;
  return expand(text, file, templates_dir, chain, final_delims);
}

Result<TemplateSource> read_template_file(const std::string& path, const std::string& templates_dir) {
  auto text = read_file(path);
  if (!text) return fail(text.error());
  return expand_template(*text, path, templates_dir);
}

}  // namespace campaignd::render
