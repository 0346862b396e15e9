// Several nodes render from one set of files: the leader's. The leader packs its campaigns,
// templates and rules folders into the store (store/leader_files.hpp); every other node unpacks
// that copy into a folder of its own and loads campaigns from there with the same loader, so a
// follower's own folders, stale or empty, never decide what is sent.
#pragma once

#include <string>

#include "daemon/campaigns/campaign_loader.hpp"
#include "daemon/store/leader_files.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::campaigns {

struct SourceFolders {
  std::string campaigns_dir;
  std::string templates_dir;
  std::string rules_dir;

  LoaderPaths loader() const { return {templates_dir, rules_dir}; }
};

// A copy larger than this is refused: the files are campaigns and templates, not assets.
inline constexpr std::size_t kMaxLeaderFilesBytes = 64u << 20;

// Reads the campaigns folder's files (top level), the templates folder (with partials/ and any
// subfolder) and the rules folder (top level); hidden files are skipped, a missing folder is
// empty. Paths are "campaigns/…", "templates/…", "rules/…"; the digest covers paths and bytes.
Result<store::LeaderFilesRow> pack_leader_files(const SourceFolders& folders);

// Writes the files into `root`/<digest> (complete before it appears: written aside, then
// renamed), removes older copies from `root`, and returns the three folders in it. A path that
// would leave the folder is refused.
Result<SourceFolders> unpack_leader_files(const store::LeaderFilesRow& files, const std::string& root);

}  // namespace campaignd::campaigns
