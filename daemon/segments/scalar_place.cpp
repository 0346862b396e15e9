// Walks a YAML scalar's source text in step with its decoded value.
#include "daemon/segments/scalar_place.hpp"

#include <vector>

namespace campaignd::segments {

namespace {

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

size_t indent_of(std::string_view line) {
  size_t n = line.find_first_not_of(" \t");
  return n == std::string_view::npos ? line.size() : n;
}

}  // namespace

SourcePlace place_in_yaml_scalar(std::string_view file_text, const std::string& file, int mark_line, int mark_col,
                                 size_t offset) {
  std::vector<std::string_view> lines = split_lines(file_text);
  auto at = [&](size_t line, size_t col) { return SourcePlace{file, static_cast<int>(line) + 1, static_cast<int>(col) + 1}; };
  size_t line = static_cast<size_t>(mark_line);
  size_t col = static_cast<size_t>(mark_col);
  if (line >= lines.size() || col > lines[line].size()) return at(line, col);
  char first = col < lines[line].size() ? lines[line][col] : '\0';

  if (first == '|' || first == '>') {
    // Each content line gives its text after the indentation plus one line break (or space).
    for (size_t l = line + 1; l < lines.size(); ++l) {
      size_t indent = indent_of(lines[l]);
      size_t length = lines[l].size() - indent;
      if (offset <= length) return at(l, indent + offset);
      offset -= length + 1;
    }
    return at(line, col);
  }

  char quote = (first == '\'' || first == '"') ? first : '\0';
  if (quote) ++col;
  while (offset > 0) {
    std::string_view text = lines[line];
    if (col >= text.size()) {
      // The value folds onto the next line: the break reads as one character.
      if (line + 1 >= lines.size()) break;
      ++line;
      col = indent_of(lines[line]);
      --offset;
      continue;
    }
    if (quote == '\'' && text[col] == '\'' && col + 1 < text.size() && text[col + 1] == '\'') col += 2;
    else if (quote == '"' && text[col] == '\\') col += 2;
    else col += 1;
    --offset;
  }
  return at(line, col);
}

}  // namespace campaignd::segments
