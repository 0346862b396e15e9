// Runs automations (drips and autoresponders): turns events into enrollments, enrollments into
// queued sends at each step's due time, and exit events into exits. Every timer lives in the
// enrollments table, so a restart, or a daemon that was down at a due time, sends each step
// exactly once when back. Automation mail goes through the ordinary send queue: each step is a
// campaigns row "<automation>#<n>" (n from 1) whose PreparedCampaign the caller puts in the
// Catalog, so suppression, status and topic checks at send time apply as to campaigns.
//
// Threading: reload(), prepared() and tick() are for the daemon's main loop only; status() and
// names() may be called from any thread (the HTTP server's).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/automation/automation.hpp"
#include "daemon/campaigns/prepared_campaign.hpp"
#include "daemon/campaigns/campaign_loader.hpp"
#include "daemon/segments/rule_book.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::automation {

struct AutomationSettings {
  std::string templates_dir;
  std::string rules_dir;
  // Our own addresses besides every automation's from and reply_to (e.g. campaign From
  // addresses, the subscribe confirmation sender): autoresponders never answer them.
  std::set<std::string> our_addresses;
  int event_batch = 500;  // events per writer transaction
  int step_batch = 500;   // due enrollments per writer transaction
  // joined_segment, tag_added, date triggers and left_segment exits are evaluated this often
  // (and on the first tick).
  std::int64_t periodic_seconds = 60;
  // Events older than this when processed never trigger (imports of past purchases, a backlog
  // after a long outage); they still cause exits.
  std::int64_t trigger_max_age_seconds = 2 * 86400;
  // A date trigger still fires this long after its moment (a daemon down at midnight).
  std::int64_t date_window_seconds = 86400;
};

class AutomationEngine {
 public:
  AutomationEngine(store::Store& store, const util::Clock& clock, AutomationSettings settings);

  // Parses and checks `automation_files` (see find_automation_files), appends every problem to
  // `errors` (file:line:col; an invalid file is not run, the others are), records a running
  // campaigns row per step, and starts a new automation's event cursor at the newest event, so
  // it reacts only to what happens from now on. Automations no longer present stop (their
  // enrollments wait, their step rows are paused). Fails only on a store error.
  Status reload(const std::vector<std::string>& automation_files, std::vector<PlacedError>& errors);
  // The same with templates and rules from `paths`. A follower (see campaigns::LoadRole) writes
  // nothing: it looks up the step rows the leader recorded and leaves out an automation whose
  // rows are not there yet.
  Status reload(const std::vector<std::string>& automation_files, const campaigns::LoaderPaths& paths,
                campaigns::LoadRole role, std::vector<PlacedError>& errors);

  // The step campaigns of the loaded automations by campaigns.id, to merge into the Catalog.
  std::map<std::int64_t, campaigns::PreparedCampaignPtr> prepared() const;

  // 1) new events (oldest first, in batches, one writer transaction each with the cursors):
  //    exits, then enrollments; 2) due steps become queued sends; 3) periodic triggers.
  // Returns the work done (enrollments + exits + sends queued + completions); 0 = idle.
  Result<int> tick();

  // [{"name", "file", "trigger", "enrolled", "active", "completed", "exited",
  //   "steps": [{"step", "campaign", "campaign_id", "subject", "template", "after_s", "queued",
  //              "sent", "failed", "skipped", "opened", "clicked", "replied"}]}]
  nlohmann::json status() const;
  std::vector<std::string> names() const;

  // The same report for one automation from the database alone (for `campaignd report NAME`
  // without a running daemon): counts of enrollments and of the "<name>#<n>" step campaigns.
  // nullopt when the database knows no such automation.
  static Result<std::optional<nlohmann::json>> report(const store::Database& db, const std::string& name);

 private:
  struct Loaded {
    Automation automation;
    std::vector<std::int64_t> step_campaign_ids;
    std::vector<campaigns::PreparedCampaignPtr> steps;
  };
  using LoadedPtr = std::shared_ptr<const Loaded>;

  std::vector<LoadedPtr> snapshot() const;
  Result<int> process_events(bool& more);
  Result<int> process_due(bool& more);
  Result<int> periodic();

  store::Store& store_;
  const util::Clock& clock_;
  AutomationSettings settings_;
  std::optional<segments::RuleBook> rules_;  // main loop only
  std::optional<util::UnixTime> last_periodic_;

  mutable std::mutex mutex_;
  std::vector<LoadedPtr> automations_;        // guarded by mutex_
  mutable std::optional<store::Database> status_reader_;  // guarded by mutex_
};

}  // namespace campaignd::automation
