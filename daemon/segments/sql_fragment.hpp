// A piece of SQL together with the values bound to its `?`s, kept in step: appending one
// fragment to another appends its text and its parameters, so their order always matches.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/store/database.hpp"

namespace campaignd::segments {

struct SqlFragment {
  std::string text;
  std::vector<store::SqlValue> params;

  // SQL written by campaignd itself; never user text.
  SqlFragment& sql(std::string_view trusted) {
    text += trusted;
    return *this;
  }
  // Any value that came from outside, as a `?`.
  SqlFragment& bind(store::SqlValue value) {
    text += '?';
    params.push_back(std::move(value));
    return *this;
  }
  SqlFragment& append(const SqlFragment& other) {
    text += other.text;
    params.insert(params.end(), other.params.begin(), other.params.end());
    return *this;
  }
};

}  // namespace campaignd::segments
