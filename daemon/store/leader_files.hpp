// The leader_files table: the one copy of the leading node's campaign, template and rule files
// that the other nodes render from (campaigns/leader_files.hpp takes and unpacks it).
#pragma once

#include <map>
#include <optional>
#include <string>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct LeaderFilesRow {
  std::string digest;                       // sha256 over every path and content
  std::map<std::string, std::string> files;  // relative path ("templates/partials/f.mustache") -> bytes
  std::string node;                          // the node that wrote them
  util::UnixTime taken_at = 0;
};

class LeaderFilesRepository {
 public:
  explicit LeaderFilesRepository(const Database& db) : db_(db) {}

  // Replaces the stored copy.
  Status save(const LeaderFilesRow& row);
  // The stored copy's digest, without reading the files; nullopt before any leader wrote one.
  Result<std::optional<std::string>> digest();
  Result<std::optional<LeaderFilesRow>> load();

 private:
  const Database& db_;
};

}  // namespace campaignd::store
