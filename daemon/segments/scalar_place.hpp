// Maps an offset inside a YAML scalar's value back to the file's line and column, so an error
// found in an expression can point into the file. yaml-cpp reports where a scalar starts (at
// its quote or block indicator) but not where each of its characters came from.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "daemon/util/source_place.hpp"

namespace campaignd::segments {

// `mark_line` and `mark_col` are yaml-cpp's 0-based Mark of the scalar; `offset` is a 0-based
// byte offset into the scalar's decoded value. Exact for plain, single- and double-quoted
// scalars (escapes counted as written) and for block scalars (| and >); for folded multi-line
// flow scalars it is exact at line starts and close elsewhere. Returns a 1-based place.
SourcePlace place_in_yaml_scalar(std::string_view file_text, const std::string& file, int mark_line, int mark_col,
                                 size_t offset);

}  // namespace campaignd::segments
