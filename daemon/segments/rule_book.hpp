// Named segments: the rules/*.yaml files a campaign's `segment:` can refer to by name.
//
// A rule file:
//   name: engaged-buyers          # optional; defaults to the file name without .yaml
//   description: Bought twice and still opening
//   segment: 'orders >= 2 and opened_within("90d")'
// Files with a `trigger:` key and no `segment:` are automation rules and are skipped here.
//
// A RuleBook is immutable once loaded, so any number of threads may read it.
#pragma once

#include <expected>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/segments/compiler.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::segments {

struct Rule {
  std::string name;
  std::string description;
  std::string expression;
  SourcePlace place;  // where the expression starts in its file
};

class RuleBook {
 public:
  // Reads every *.yaml / *.yml file in `rules_dir`. A file with errors is reported in `errors`
  // (file:line:col, the column pointing inside the expression where it can) and left out; the
  // rest still load. A missing folder is an empty book; a path that is not a readable folder
  // is an error.
  static Result<RuleBook> load(const std::string& rules_dir, std::vector<PlacedError>& errors);

  // What a campaign's `segment:` says, `where_written` being the place of its first character:
  // `all` is everyone ("1"; "TRUE" on PostgreSQL), a rule name is that rule, anything else an
  // inline expression. A lone word that is neither a rule nor a built-in field is an error (most
  // likely a misspelt rule name), as is the name of a rule file that failed to load. The SQL is
  // for `dialect`, the engine it will run on.
  std::expected<CompiledSegment, PlacedError> resolve(std::string_view segment, util::UnixTime now,
                                                      const SourcePlace& where_written,
                                                      store::Dialect dialect = store::Dialect::sqlite) const;

  const Rule* find(std::string_view name) const;
  const std::map<std::string, Rule, std::less<>>& rules() const { return rules_; }

  // Checks one rule file for `campaignd validate`; fails when it appended anything to `errors`.
  // An automation rule file (trigger, no segment) passes: it is not a segment rule.
  static Status validate_file(const std::string& path, std::vector<PlacedError>& errors);

 private:
  std::string dir_;
  std::map<std::string, Rule, std::less<>> rules_;
  std::map<std::string, std::string, std::less<>> broken_;  // rule name -> file, for files with errors
};

}  // namespace campaignd::segments
