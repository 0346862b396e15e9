// A small JSON path for webhook adapters: just enough to point into the five providers'
// payloads, parsed once when an adapter loads and evaluated per event.
//
//   $                  the current event (or, in `events.root`, the whole body)
//   @                  the whole body, also from inside an event (SNS envelope fields)
//   .name              an object member; names may hold '-' and ':' ("smtp-id", "event-data")
//   ['na.me']          an object member whose name holds '.', '[' or spaces
//   [3]                an array element
//   [*]                every element of an array (or every member value of an object)
//   [?name=value]      the array elements whose member `name` equals `value` (case-insensitive):
//                      `$.mail.headers[?name=Message-ID].value`
//
// Evaluation yields every value the path reaches, in document order; a missing member is no
// value, never an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/util/result.hpp"

namespace campaignd::tracking::webhooks {

class JsonPath {
 public:
  enum class Origin { event, document };

  // Errors name the 1-based column within `text`: "column 7: expected ']'".
  static Result<JsonPath> parse(std::string_view text);

  // `event` is what `$` means, `document` what `@` means.
  std::vector<const nlohmann::json*> evaluate(const nlohmann::json& event, const nlohmann::json& document) const;
  // The first value reached, or null when none.
  const nlohmann::json* first(const nlohmann::json& event, const nlohmann::json& document) const;

  const std::string& text() const { return text_; }
  Origin origin() const { return origin_; }
  // True when the path may reach more than one value ([*] or a filter).
  bool fans_out() const;

 private:
  struct Step {
    enum class Kind { member, index, all, filter } kind = Kind::member;
    std::string name;   // member name, or the filter's member
    std::size_t index = 0;
    std::string value;  // the filter's value
  };

  std::string text_;
  Origin origin_ = Origin::event;
  std::vector<Step> steps_;
};

// The text form of a scalar for comparisons and kind lookups: strings as they are, numbers and
// booleans as JSON writes them, null and containers as "".
std::string scalar_text(const nlohmann::json& value);

}  // namespace campaignd::tracking::webhooks
