// Where this node's catalog of campaigns comes from as the lead moves between nodes.
//
// The leader loads its own campaigns, templates and rules folders (Scheduler::reload: it records
// them in the store) and, on PostgreSQL, packs them into the store for the others
// (campaigns/leader_files.hpp). A follower never reads its own folders: it watches the packed
// copy's digest and, when it changes, unpacks the copy under <data_dir>/leader-files and loads
// from there without writing.
//
// Which folders a leader loads: its own when the process starts leading and whenever its own
// files change (the watcher, SIGHUP); the copy when it takes the lead from a node that died, so
// the campaigns that node was sending go on even if this node's folder lacks them. The last
// files loaded by a leader are the ones that count.
//
// Main loop only.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "daemon/campaigns/leader_files.hpp"
#include "daemon/campaigns/scheduler.hpp"
#include "daemon/store/store.hpp"

namespace campaignd::app {

class CampaignSources {
 public:
  CampaignSources(store::Store& store, campaigns::Scheduler& scheduler, campaigns::SourceFolders own,
                  std::string unpack_root, std::string node_id, const util::Clock& clock);

  // Loads what this node should render from now: its own folders when it leads and they changed
  // (`own_files_changed`: the watcher or SIGHUP) or it has just taken the lead; the leader's
  // copy when it follows and the copy changed. Returns whether the catalog was loaded again.
  Result<bool> refresh(bool leader, bool own_files_changed);

  // False for a second after the leader published a new copy: it starts nothing meanwhile, so
  // the other nodes know a campaign before its first send can reach them.
  bool settled() const { return std::chrono::steady_clock::now() >= settle_until_; }

 private:
  Result<bool> lead(bool own_files_changed);
  Result<bool> follow();
  Status publish();
  // The copy in the store unpacked (nullopt: none yet), and its digest.
  Result<std::optional<campaigns::SourceFolders>> unpack_copy(std::string& digest);

  store::Store& store_;
  campaigns::Scheduler& scheduler_;
  campaigns::SourceFolders own_;
  std::string unpack_root_;
  std::string node_id_;
  const util::Clock& clock_;
  store::Database reader_;
  enum class Role { none, leader, follower } role_ = Role::none;
  std::string followed_digest_;  // the copy the catalog was last loaded from (follower)
  std::chrono::steady_clock::time_point settle_until_{};
  bool told_waiting_ = false;
};

}  // namespace campaignd::app
