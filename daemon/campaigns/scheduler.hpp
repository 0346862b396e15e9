// Turns campaign files into work: on (re)load it records each valid campaign in the store and
// the catalog; on every tick it starts campaigns whose time has come (the segment becomes
// queued sends, in SQL, never held in memory) and marks finished ones done.
//
// Policies applied when the list is built: `exclude_unengaged` and `frequency_cap` (see
// send_policy.hpp), `send_time: best` (each send due at the contact's usual open hour, within
// 24 hours). An A/B-tested campaign (`variants` + `ab_test`) starts with its test group only
// (ab_decisions row `testing`); once `wait` has passed, a tick decides the winner (ab_test.hpp)
// and queues the rest of the segment, as it is then, with the winner. The campaign is not done
// while its test waits.
//
// Single-threaded: reload() and tick() are called from the daemon's main loop only.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>

#include "daemon/campaigns/campaign_loader.hpp"
#include "daemon/campaigns/catalog.hpp"
#include "daemon/campaigns/leader_files.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::campaigns {

struct SchedulerPaths {
  std::string campaigns_dir;
  LoaderPaths loader;
  // The built-in double opt-in confirmation campaign (templates/confirm-subscription.*), when
  // subscribe.from is configured. It is always running and never done.
  std::optional<Campaign> confirmation;
  // Loads the automation files the folder holds (their step campaigns join the catalog) and
  // adds their errors. Campaign step rows are named "<automation>#<n>" and managed by it.
  // `paths` are the folders of this load; `role` as for Scheduler::reload.
  std::function<Status(const std::vector<std::string>& files, const LoaderPaths& paths, LoadRole role,
                       std::map<std::int64_t, PreparedCampaignPtr>& prepared, std::vector<PlacedError>& errors)>
      automations;
};

class Scheduler {
 public:
  Scheduler(store::Store& store, Catalog& catalog, const util::Clock& clock, SchedulerPaths paths);

  // Reads this node's campaigns folder again, records every valid campaign in the store and
  // pauses running campaigns whose file went away (the leader). Invalid files are logged and
  // listed in the catalog's errors.
  Status reload();
  // The same from other folders (the leader's copy, see leader_files.hpp). As a follower it
  // fills the catalog without writing anything: campaigns the leader has not recorded yet are
  // left out until the next copy.
  Status reload(const SourceFolders& folders, LoadRole role);
  // Starts due campaigns and closes finished ones; returns how many campaigns started.
  Result<int> tick();
  // The confirmation campaign's id, once reload() has recorded it.
  std::optional<std::int64_t> confirmation_id() const { return confirmation_id_; }
  // True when no campaign in the catalog is waiting to start or still has unsent mail due now.
  Result<bool> idle(bool include_future_schedules);

 private:
  Status start(const PreparedCampaign& campaign);
  // Decides a due A/B test and queues the remainder with the winner.
  Status decide(const PreparedCampaign& campaign);
  Result<segments::CompiledSegment> resolve_segment(const Campaign& c);
  // The campaign row for a loaded campaign: recorded (leader) or looked up (follower).
  Result<std::optional<store::CampaignRow>> campaign_row(const Campaign& c, const std::string& definition, LoadRole role,
                                                         util::UnixTime now);

  store::Store& store_;
  Catalog& catalog_;
  const util::Clock& clock_;
  SchedulerPaths paths_;
  store::Database reader_;
  std::set<std::string> logged_errors_;
  std::optional<std::int64_t> confirmation_id_;
};

}  // namespace campaignd::campaigns
