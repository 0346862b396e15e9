// Loads rules/*.yaml into named segments and resolves what a campaign's `segment:` says.
#include "daemon/segments/rule_book.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "daemon/segments/catalog.hpp"
#include "daemon/segments/lexer.hpp"
#include "daemon/segments/scalar_place.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::segments {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kKeys = "name, description and segment";

// One rule file as read: the rule if it is a good segment rule, else its name (when known) so
// that campaigns naming it get a clear error.
struct FileOutcome {
  std::optional<Rule> rule;
  std::string name;
  bool automation = false;
  SourcePlace name_place;
};

SourcePlace place_of(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return SourcePlace{file, 0, 0};
  return SourcePlace{file, mark.line + 1, mark.column + 1};
}

bool valid_rule_name(std::string_view name) {
  if (name.empty() || util::iequals(name, "all")) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

bool is_rule_file(const fs::path& path) {
  std::string ext = path.extension().string();
  return ext == ".yaml" || ext == ".yml";
}

FileOutcome read_rule_file(const fs::path& path, std::vector<PlacedError>& errors) {
  const std::string file = path.string();
  FileOutcome out;
  out.name = path.stem().string();
  auto error = [&](SourcePlace place, std::string message) {
    errors.push_back(PlacedError{std::move(place), std::move(message)});
    return std::move(out);
  };

  std::ifstream in(path, std::ios::binary);
  if (!in) return error(SourcePlace{file, 0, 0}, "cannot read rule file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();

  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return error(place_of(file, e.mark), e.msg);
  }
  if (!root.IsMap()) {
    SourcePlace place = root.IsNull() ? SourcePlace{file, 1, 1} : place_of(file, root.Mark());
    return error(place, "a rule file is a mapping with the keys " + std::string(kKeys));
  }
  if (!root["segment"] && root["trigger"]) {
    out.automation = true;
    return out;
  }

  const size_t errors_before = errors.size();
  YAML::Node segment;
  Rule rule;
  rule.name = out.name;
  for (const auto& entry : root) {
    const std::string key = entry.first.IsScalar() ? entry.first.Scalar() : "";
    const YAML::Node& value = entry.second;
    if (key == "segment") {
      segment = value;
    } else if (key == "name" || key == "description") {
      if (!value.IsScalar()) {
        errors.push_back({place_of(file, value.Mark()), "'" + key + "' must be text"});
        continue;
      }
      if (key == "description") {
        rule.description = value.Scalar();
        continue;
      }
      out.name_place = place_of(file, value.Mark());
      if (!valid_rule_name(value.Scalar())) {
        errors.push_back({out.name_place, "rule name '" + value.Scalar() +
                                              "' must be letters, digits, '_', '-' or '.', and not 'all'"});
        continue;
      }
      out.name = rule.name = value.Scalar();
    } else {
      errors.push_back({place_of(file, entry.first.Mark()),
                        "unknown key '" + key + "' (a segment rule has " + std::string(kKeys) + ")"});
    }
  }
  if (!segment) return error(SourcePlace{file, 1, 1}, "missing key 'segment'");
  if (!segment.IsScalar()) return error(place_of(file, segment.Mark()), "'segment' must be an expression in text");
  if (!valid_rule_name(rule.name) && out.name_place.line == 0)
    errors.push_back({SourcePlace{file, 1, 1}, "the file name '" + rule.name +
                                                   "' is not a usable rule name; give the rule a 'name:'"});

  rule.expression = segment.Scalar();
  const YAML::Mark mark = segment.Mark();
  rule.place = place_in_yaml_scalar(text, file, mark.line, mark.column, 0);
  if (auto compiled = compile_segment(rule.expression, 0); !compiled) {
    const SegmentError& e = compiled.error();
    errors.push_back({place_in_yaml_scalar(text, file, mark.line, mark.column, static_cast<size_t>(e.col - 1)), e.message});
  }
  if (errors.size() == errors_before) out.rule = std::move(rule);
  return out;
}

PlacedError at(const SourcePlace& where, int expression_col, std::string message) {
  SourcePlace place = where;
  if (place.col > 0) place.col += expression_col - 1;
  return PlacedError{std::move(place), std::move(message)};
}

}  // namespace

Result<RuleBook> RuleBook::load(const std::string& rules_dir, std::vector<PlacedError>& errors) {
  RuleBook book;
  book.dir_ = rules_dir;
  std::error_code ec;
  if (!fs::exists(rules_dir, ec)) return book;
  if (!fs::is_directory(rules_dir, ec)) return fail("rules folder " + rules_dir + " is not a folder");

  std::vector<fs::path> files;
  for (fs::directory_iterator it(rules_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && is_rule_file(it->path())) files.push_back(it->path());
  }
  if (ec) return fail("cannot read rules folder " + rules_dir + ": " + ec.message());
  std::sort(files.begin(), files.end());  // a duplicate name is blamed on the same file every time

  for (const fs::path& path : files) {
    FileOutcome outcome = read_rule_file(path, errors);
    if (outcome.automation) continue;
    const Rule* earlier = book.find(outcome.name);
    if (earlier && outcome.rule) {
      SourcePlace place = outcome.name_place.line > 0 ? outcome.name_place : SourcePlace{path.string(), 1, 1};
      errors.push_back({place, "rule '" + outcome.name + "' is already defined in " + earlier->place.file});
      continue;
    }
    if (!outcome.rule) {
      book.broken_.emplace(outcome.name, path.string());
      continue;
    }
    book.rules_.emplace(outcome.name, std::move(*outcome.rule));
  }
  return book;
}

const Rule* RuleBook::find(std::string_view name) const {
  auto it = rules_.find(name);
  return it == rules_.end() ? nullptr : &it->second;
}

std::expected<CompiledSegment, PlacedError> RuleBook::resolve(std::string_view segment, util::UnixTime now,
                                                              const SourcePlace& where_written,
                                                              store::Dialect dialect) const {
  const std::string_view word = util::trim(segment);
  const int word_col = static_cast<int>(word.data() - segment.data()) + 1;
  if (word.empty())
    return std::unexpected(at(where_written, 1, "empty segment: write a rule name, 'all' or an expression"));
  if (util::iequals(word, "all"))
    return CompiledSegment{dialect == store::Dialect::postgresql ? "TRUE" : "1", {}};

  if (const Rule* rule = find(word)) {
    auto compiled = compile_segment(rule->expression, now, dialect);
    if (!compiled) return std::unexpected(at(rule->place, compiled.error().col, compiled.error().message));
    return std::move(*compiled);
  }
  if (auto it = broken_.find(word); it != broken_.end())
    return std::unexpected(at(where_written, word_col, "rule '" + std::string(word) + "' in " + it->second +
                                                           " has errors; see that file"));
  // A lone word that is not a built-in field would test an attribute; in a `segment:` that is far
  // more likely a misspelt rule name, which must not silently select nobody (or everybody).
  if (auto tokens = tokenize(word);
      tokens && tokens->size() == 2 && (*tokens)[0].kind == TokenKind::identifier && !find_field(word)) {
    return std::unexpected(at(where_written, word_col,
                              "no rule named '" + std::string(word) + "' in " + dir_ +
                                  " (to test an attribute, write '" + std::string(word) + " = true')"));
  }

  auto compiled = compile_segment(segment, now, dialect);
  if (!compiled) return std::unexpected(at(where_written, compiled.error().col, compiled.error().message));
  return std::move(*compiled);
}

Status RuleBook::validate_file(const std::string& path, std::vector<PlacedError>& errors) {
  const size_t before = errors.size();
  read_rule_file(path, errors);
  if (errors.size() == before) return {};
  return fail(std::to_string(errors.size() - before) + " error(s) in " + path);
}

}  // namespace campaignd::segments
