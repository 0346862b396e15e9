// A place in an input file, so every parse error can say file:line:col.
#pragma once

#include <string>

namespace campaignd {

struct SourcePlace {
  std::string file;
  int line = 0;  // 1-based; 0 = unknown
  int col = 0;   // 1-based; 0 = unknown
};

struct PlacedError {
  SourcePlace place;
  std::string message;

  // "file:line:col: message", the form `campaignd validate` prints.
  std::string to_string() const {
    // A message from a lower layer may already name the place precisely (file:line:col: …).
    if (place.line == 0 && !place.file.empty() && message.starts_with(place.file + ":")) return message;
    std::string out = place.file;
    if (place.line > 0) out += ":" + std::to_string(place.line) + ":" + std::to_string(place.col > 0 ? place.col : 1);
    return out + ": " + message;
  }
};

}  // namespace campaignd
