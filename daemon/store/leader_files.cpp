#include "daemon/store/leader_files.hpp"

#include <nlohmann/json.hpp>

#include "daemon/util/crypto.hpp"

namespace campaignd::store {

// Contents travel as base64url inside JSON: a template may hold any bytes, JSON strings may not.
Status LeaderFilesRepository::save(const LeaderFilesRow& row) {
  nlohmann::json files = nlohmann::json::object();
  for (const auto& [path, content] : row.files) files[path] = util::base64url_encode(content);
  auto stmt = db_.cached(
      "INSERT INTO leader_files (id, digest, files, node, taken_at) VALUES (1, ?1, ?2, ?3, ?4) "
      "ON CONFLICT (id) DO UPDATE SET digest = excluded.digest, files = excluded.files, node = excluded.node, "
      "taken_at = excluded.taken_at");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, row.digest).bind(2, files.dump()).bind(3, row.node).bind(4, row.taken_at);
  return (*stmt)->run();
}

Result<std::optional<std::string>> LeaderFilesRepository::digest() {
  auto stmt = db_.cached("SELECT digest FROM leader_files WHERE id = 1");
  if (!stmt) return std::unexpected(stmt.error());
  std::optional<std::string> out;
  auto s = (*stmt)->each([&](const Statement& r) { out = r.column_text(0); });
  if (!s) return std::unexpected(s.error());
  return out;
}

Result<std::optional<LeaderFilesRow>> LeaderFilesRepository::load() {
  auto stmt = db_.cached("SELECT digest, files, node, taken_at FROM leader_files WHERE id = 1");
  if (!stmt) return std::unexpected(stmt.error());
  std::optional<LeaderFilesRow> out;
  std::string files_json;
  auto s = (*stmt)->each([&](const Statement& r) {
    out = LeaderFilesRow{r.column_text(0), {}, r.column_text(2), r.column_int(3)};
    files_json = r.column_text(1);
  });
  if (!s) return std::unexpected(s.error());
  if (!out) return out;
  auto files = nlohmann::json::parse(files_json, nullptr, false);
  if (!files.is_object()) return fail("leader_files: the stored files are not a JSON object");
  for (const auto& [path, encoded] : files.items()) {
    std::string content;
    if (!encoded.is_string() || !util::base64url_decode(encoded.get<std::string>(), content))
      return fail("leader_files: " + path + " is not base64url");
    out->files.emplace(path, std::move(content));
  }
  return out;
}

}  // namespace campaignd::store
