// What is wrong with a segment expression, and where: the column is counted inside the
// expression text so that callers holding the text's own place (a YAML file) can translate it.
#pragma once

#include <string>

namespace campaignd::segments {

struct SegmentError {
  int col = 1;  // 1-based byte offset into the expression text
  std::string message;

  std::string to_string() const { return "col " + std::to_string(col) + ": " + message; }
};

}  // namespace campaignd::segments
