#include "daemon/campaigns/leader_files.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "daemon/util/crypto.hpp"

namespace campaignd::campaigns {

namespace fs = std::filesystem;

namespace {

constexpr const char* kParts[] = {"campaigns", "templates", "rules"};

Status read_into(const fs::path& file, const std::string& key, store::LeaderFilesRow& out, std::size_t& total) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  if (!in) return fail(file.string() + ": cannot read");
  total += content.str().size();
  if (total > kMaxLeaderFilesBytes)
    return fail("the campaign, template and rule files exceed " + std::to_string(kMaxLeaderFilesBytes >> 20) +
                " MiB; other nodes cannot be given a copy");
  out.files.emplace(key, std::move(content).str());
  return {};
}

// Every regular, non-hidden file under `dir` (its whole tree when `recursive`), keyed "<part>/<relative path>".
Status read_folder(const std::string& dir, const std::string& part, bool recursive, store::LeaderFilesRow& out,
                   std::size_t& total) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return {};
  auto take = [&](const fs::directory_entry& entry) -> Status {
    auto relative = entry.path().lexically_relative(dir);
    for (const auto& piece : relative)
      if (piece.string().starts_with(".")) return {};
    if (!entry.is_regular_file(ec)) return {};
    return read_into(entry.path(), part + "/" + relative.generic_string(), out, total);
  };
  if (recursive) {
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (auto s = take(*it); !s) return s;
  } else {
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
      if (auto s = take(*it); !s) return s;
  }
  if (ec) return fail(dir + ": cannot list: " + ec.message());
  return {};
}

// "campaigns/x.yaml" and the like, nothing that climbs out or names an absolute path.
bool safe_key(const std::string& key) {
  fs::path p(key);
  if (p.is_absolute() || p.empty()) return false;
  auto first = *p.begin();
  if (std::none_of(std::begin(kParts), std::end(kParts), [&](const char* part) { return first == part; })) return false;
  int depth = 0;
  for (const auto& piece : p) {
    if (piece == ".." || piece == "." || piece.empty()) return false;
    ++depth;
  }
  return depth >= 2;
}

SourceFolders folders_in(const fs::path& dir) {
  return {(dir / "campaigns").string(), (dir / "templates").string(), (dir / "rules").string()};
}

}  // namespace

Result<store::LeaderFilesRow> pack_leader_files(const SourceFolders& folders) {
  store::LeaderFilesRow out;
  std::size_t total = 0;
  if (auto s = read_folder(folders.campaigns_dir, "campaigns", false, out, total); !s) return std::unexpected(s.error());
  if (auto s = read_folder(folders.templates_dir, "templates", true, out, total); !s) return std::unexpected(s.error());
  if (auto s = read_folder(folders.rules_dir, "rules", false, out, total); !s) return std::unexpected(s.error());
  // Sizes are part of what is hashed, so no two different sets of files hash alike by moving
  // bytes from one file's end to the next one's name.
  std::string hashed;
  for (const auto& [path, content] : out.files)
    hashed += path + '\0' + std::to_string(content.size()) + '\0' + util::sha256_hex(content) + '\n';
  out.digest = util::sha256_hex(hashed);
  return out;
}

Result<SourceFolders> unpack_leader_files(const store::LeaderFilesRow& files, const std::string& root) {
  if (files.digest.size() < 16) return fail("leader files: no digest");
  for (const auto& [key, content] : files.files)
    if (!safe_key(key)) return fail("leader files: refusing path '" + key + "'");
  const std::string name = files.digest.substr(0, 16);
  const fs::path dir = fs::path(root) / name;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    const fs::path aside = fs::path(root) / ("." + name + ".partial");
    fs::remove_all(aside, ec);
    for (const char* part : kParts) {
      fs::create_directories(aside / part, ec);
      if (ec) return fail(aside.string() + ": cannot create: " + ec.message());
    }
    for (const auto& [key, content] : files.files) {
      fs::path target = aside / fs::path(key);
      fs::create_directories(target.parent_path(), ec);
      std::ofstream out(target, std::ios::binary | std::ios::trunc);
      out.write(content.data(), static_cast<std::streamsize>(content.size()));
      out.close();
      if (!out) return fail(target.string() + ": cannot write");
    }
    fs::rename(aside, dir, ec);
    if (ec) return fail(dir.string() + ": cannot rename into place: " + ec.message());
  }
  // Older copies go; the loader has already parsed what it needs from them.
  std::vector<fs::path> older;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().filename() != name) older.push_back(it->path());
  for (const auto& path : older) fs::remove_all(path, ec);
  return folders_in(dir);
}

}  // namespace campaignd::campaigns
