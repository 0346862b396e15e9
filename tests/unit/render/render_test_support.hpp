// Helpers for the render tests: a temporary folder of templates, and Python's email package as an
// independent parser of the messages build_mime writes.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/util/crypto.hpp"

namespace campaignd::render::testing {

inline std::filesystem::path source_dir() {
#ifdef CAMPAIGND_SOURCE_DIR
  return CAMPAIGND_SOURCE_DIR;
#else
  // tests/unit/render/<this file> -> repository root
  return std::filesystem::absolute(std::filesystem::path(__FILE__)).parent_path().parent_path().parent_path().parent_path();
#endif
}

class TempDir {
 public:
  TempDir() : path_(std::filesystem::temp_directory_path() / ("campaignd-render-" + util::to_hex(util::random_bytes(8)))) {
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string write(const std::string& relative, const std::string& content) const {
    auto file = path_ / relative;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

 private:
  std::filesystem::path path_;
};

// Runs tests/unit/render/parse_mime.py on the messages; one JSON object per message, or
// a null json when Python could not be run or printed no JSON.
inline nlohmann::json parse_with_python(const std::vector<std::string>& messages) {
  TempDir dir;
  std::string command = "/usr/bin/python3 '" + (source_dir() / "tests/unit/render/parse_mime.py").string() + "'";
  for (size_t i = 0; i < messages.size(); ++i)
    command += " '" + dir.write("m" + std::to_string(i) + ".eml", messages[i]) + "'";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  if (!pipe) return nullptr;
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe.get())) > 0) output.append(buf, n);
  return nlohmann::json::parse(output, nullptr, /*allow_exceptions=*/false);
}

}  // namespace campaignd::render::testing
