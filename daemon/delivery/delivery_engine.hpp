// The send queue at work. A dispatcher claims due sends from the store in batches, learns each
// recipient's destination (domain, or provider: see destination.hpp) and the relays that may
// carry the campaign, and queues it in memory per destination. Each relay has its own worker
// threads, one transport session each (so SMTP connections are reused); a worker takes the next
// send, round-robin over destinations, that its relay should carry now and whose destination
// and relay gates (concurrency, rate, throttling pause: flow_gate.hpp) and budget (window cap,
// warm-up: send_budget.hpp) let through. So one slow or throttling destination never stalls
// the others, and a relay that is down or out of budget hands its sends to the next one.
//
// The dispatcher reads the recipients of a claimed batch in one go (their address gives the
// destination, the rest the personalisation). While the outcome of its previous message is
// being committed, a worker renders its next one, re-checks status, suppression and topic (at
// send time: an unsubscribe during the campaign holds) and opens the SMTP transaction (MAIL,
// RCPT, DATA); the message itself goes out only once that commit is done (the transport's
// go-ahead), and its outcome goes to the store's writer without waiting. Over SMTP with
// PIPELINING the worker takes and renders its next message while it waits for that go-ahead,
// and the session writes the next envelope behind the current content: one round trip each,
// the next message riding on the session's relay slot (FlowGate::admit_riding). A send is marked
// `sent` only after the transport reported success (a 250, or the maildir rename) and that mark
// is committed; a worker never hands a message over while its previous one is sent but not yet
// recorded, so a crash re-sends at most one message per worker on restart. Deferrals for
// throttling, a relay being down or a spent budget do not count as attempts: a campaign never
// fails its recipients because of our own pacing.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/campaigns/catalog.hpp"
#include "daemon/delivery/flow_gate.hpp"
#include "daemon/delivery/message_composer.hpp"
#include "daemon/delivery/push_back.hpp"
#include "daemon/delivery/send_budget.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/transport/transport.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/rate.hpp"

namespace campaignd::delivery {

// One relay the engine may send through. The transport is owned by the caller.
struct RelaySpec {
  std::string name = "default";
  transport::Transport* transport = nullptr;
  FlowLimits limits{4, 0};  // concurrency = its worker count (at least 1)
  BudgetSettings budget;
  std::optional<util::UnixTime> warmup_start;  // from the config; else the first day it ran
  std::vector<std::string> from_domains;       // empty = any From domain
};

struct DeliverySettings {
  int concurrency = 4;          // for the single-transport constructor
  double rate_per_second = 0;   // for the single-transport constructor; 0 = unlimited
  int batch_size = 500;
  int max_attempts = 8;
  // Messages a session may have sent whose outcome is not yet committed: what a crash (SIGKILL,
  // power loss) can make us send twice, per session. 1 = a session hands over its next message
  // only once the previous one is recorded; more overlaps the commit with the next SMTP
  // transaction, for throughput, at the price of that many possible duplicates.
  int unrecorded_per_session = 1;
  int retry_base_seconds = 300;
  int retry_max_seconds = 4000;
  // Per destination (domain or provider key); "*" holds the default for every other one.
  std::map<std::string, FlowLimits> destinations;
  ThrottleSettings throttle;
  // Several nodes on PostgreSQL: who this node is and how long its claims hold if it goes silent
  // (app/cluster_node.hpp renews them every heartbeat).
  std::string node_id;
  std::int64_t lease_seconds = 60;
};

struct DeliveryStats {
  std::int64_t sent = 0, failed = 0, retried = 0, skipped = 0, deferred = 0;
  std::int64_t in_flight = 0;
  double send_rate = 0;  // messages per second over the last few seconds
  // Non-empty while sending is paused because the store cannot be written (disk full,
  // database locked by another process): the error, and since when.
  std::string paused_reason;
  util::UnixTime paused_since = 0;
  std::int64_t unrecorded = 0;  // outcomes waiting to be written
};

class DeliveryEngine {
 public:
  // With `recorder`, a permanent refusal at send time is also recorded as a bounce (and a hard
  // one suppresses the address).
  DeliveryEngine(store::Store& store, campaigns::Catalog& catalog, std::vector<RelaySpec> relays,
                 const MessageComposer& composer, const util::Clock& clock, DeliverySettings settings,
                 tracking::EventRecorder* recorder = nullptr);
  // One relay: `transport` with settings.concurrency sessions at settings.rate_per_second.
  DeliveryEngine(store::Store& store, campaigns::Catalog& catalog, transport::Transport& transport,
                 const MessageComposer& composer, const util::Clock& clock, DeliverySettings settings,
                 tracking::EventRecorder* recorder = nullptr);
  ~DeliveryEngine();

  // Loads the relays' recorded usage and warm-up starts, then starts the threads.
  Status start();
  // Stops claiming, lets every worker finish the message it is sending, puts claimed but
  // unstarted sends back in the queue, and waits for their state to be written.
  void drain();
  // Wakes the dispatcher (new campaign started, file reloaded).
  void poke();
  // Several nodes: this node's part (1 / live nodes) of every relay's and destination's rate.
  void set_rate_share(double share);
  // True when nothing is claimed, queued in memory, or being sent.
  bool idle() const;
  DeliveryStats stats() const;
  // Per relay and per destination: limits, adaptation, pauses, budgets, counts, last reasons.
  nlohmann::json flow_status() const;

 private:
  struct Relay {
    RelaySpec spec;
    FlowGate gate;
    SendBudget budget;
    bool down = false;
    std::int64_t retry_at_ms = 0;   // steady ms: when a probe may try it again
    std::int64_t down_pause_ms = 0;
    bool probing = false;
    std::string down_reason;
    std::int64_t sent = 0;
  };
  struct Pending {
    store::ClaimedSend send;
    // Read when the send was claimed, for rendering; null when it could not be read then.
    // Status and suppression are read again just before sending.
    std::shared_ptr<const store::Contact> contact;
    std::string destination;
    std::shared_ptr<const std::vector<size_t>> route;  // relays that may carry it, in order
    size_t relay = 0;                 // the one it was handed to
    util::UnixTime budget_taken_at = 0;  // when its relay budget was reserved (0 = not)
    // Taken as a worker's next message while its current one is in flight: it rides on that
    // session's relay slot until it becomes the current one.
    bool riding = false;
  };
  struct Destination {
    FlowGate gate;
    std::deque<Pending> queue;
  };
  // Where a send can go now, or until when none of its relays can take it and why.
  struct Routing {
    std::optional<size_t> relay;
    std::int64_t wait_until_ms = 0;
    util::UnixTime wait_until_wall = 0;
    std::string reason;
  };
  struct Release {
    store::ClaimedSend send;
    util::UnixTime at = 0;
    std::string reason;  // empty: back to the queue without a note
  };

  void dispatch_loop();
  void worker_loop(size_t relay, int index);
  std::optional<Pending> take_locked(size_t relay, std::int64_t now_ms, std::int64_t& wake_ms,
                                     std::vector<Release>& releases, bool riding = false);
  Routing route_locked(const Pending& p, std::int64_t now_ms, util::UnixTime now_wall);
  Destination& destination_locked(const std::string& name, std::int64_t now_ms);
  std::shared_ptr<const std::vector<size_t>> route_for(const campaigns::Campaign& campaign);
  void park_locked(Destination& d, std::int64_t until_ms, util::UnixTime until_wall, const std::string& reason,
                   std::vector<Release>& releases);

  // returned: written back to the queue for later; withheld: not sent because sending is paused
  // or stopping, back to the front of its line in memory.
  enum class Verdict { sent, failed, retried, skipped, deferred_domain, deferred_relay, relay_down, returned, withheld };
  struct Delivered {
    Verdict verdict = Verdict::returned;
    std::string reason;
  };
  using WriteJob = std::function<Status(const store::Database&)>;
  // A worker's outcome write that was handed to the writer and is not yet known to be committed.
  struct Recording {
    std::future<Status> done;
    WriteJob job;  // kept to be retried if the store refuses it
    store::ClaimedSend send;
  };
  // The next message of a worker, rendered while the previous outcome commits.
  struct Prepared {
    std::shared_ptr<const campaigns::PreparedCampaign> campaign;  // null: its file is gone or invalid
    std::shared_ptr<const store::Contact> contact;                // null: the contact is gone
    std::optional<Result<ComposedMessage>> message;               // none: not rendered
    std::string read_error;                                       // non-empty: the contact was unreadable
  };
  // A worker's own state: its read connection, its outcome writes in flight (oldest first), and
  // the message it took while the current one was in flight, whose envelope its SMTP session
  // opened behind the current one's content.
  struct WorkerState {
    const store::Database* reader = nullptr;
    std::deque<Recording> recordings;
    std::optional<Pending> next;
    Prepared next_prepared;
  };
  Prepared prepare(const Pending& item, const store::Database& reader);
  Delivered deliver(const Pending& item, Prepared& prepared, transport::Session* session, WorkerState& worker,
                    int index);
  // The transport's go-ahead for `item`: waits for the worker's previous outcome to commit, and
  // meanwhile takes and renders the worker's next message, whose envelope a session that can
  // opens behind this one's content. No when sending is paused or stopping.
  transport::Handover hand_over(const Pending& item, const transport::Session& session, WorkerState& worker);
  // The store refused an outcome, or we stop: nothing is handed to a transport.
  bool sending_paused_locked() const { return !store_error_.empty() || stopping_; }
  // Gates, relay health and in-memory requeues after a send; a state to write, if any, is
  // returned to be recorded outside the lock.
  std::optional<std::function<Status(const store::Database&)>> settle(Pending& item, const Delivered& done);
  // A taken send that will not go now (the store refused the previous outcome, or we stop):
  // back to the front of its destination's line, its gate slots and budget given back.
  void put_back_locked(Pending& item);
  void record_sent(const Pending& item, const transport::SendResult& result, const std::string& message_id,
                   WorkerState& worker);
  void record_failure(const store::ClaimedSend& item, const transport::SendResult& result, WorkerState& worker);
  // Writes a send's new state. With a worker, the write is handed to the writer and the worker
  // goes on (finish_recording waits for it before the worker's next message goes out, or the
  // one after with settings.unrecorded_per_session = 2, ...); without, it waits for the commit.
  // When the store refuses the write the job is kept and retried, and sending pauses until it
  // is written: a message sent but not recorded would go again after a restart.
  void record(const store::ClaimedSend& item, WriteJob job, WorkerState* worker = nullptr);
  // Waits until at most `keep` of the worker's outcome writes are in flight; false when the
  // store refused one of them.
  bool finish_recording(WorkerState& worker, size_t keep = 0);
  // How many outcome writes a worker may have in flight when it hands over its next message.
  size_t unrecorded_allowed() const {
    return static_cast<size_t>(std::max(1, settings_.unrecorded_per_session)) - 1;
  }
  // The kept jobs, in order; false while the store still refuses them.
  bool retry_unrecorded();
  void store_failed(const std::string& what, const std::string& error);
  void store_recovered();
  void write_releases(const std::vector<Release>& releases);
  void release(const std::vector<store::ClaimedSend>& items, util::UnixTime retry_at);
  util::UnixTime backoff(int attempts) const;
  std::int64_t steady_ms() const;

  store::Store& store_;
  campaigns::Catalog& catalog_;
  const MessageComposer& composer_;
  const util::Clock& clock_;
  DeliverySettings settings_;
  tracking::EventRecorder* recorder_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable room_ready_;
  std::condition_variable dispatcher_wake_;
  std::vector<std::unique_ptr<Relay>> relays_;
  std::map<std::string, Destination> destinations_;
  std::atomic<double> rate_share_{1.0};  // written under mutex_; read by workers for campaign throttles
  std::string cursor_;  // the destination served last: round-robin from the next one
  size_t queued_ = 0;   // Pending in all destination queues
  int busy_workers_ = 0;
  int waiting_workers_ = 0;
  std::atomic<int> recording_{0};  // outcome writes handed to the writer, not yet known committed
  size_t high_water_ = 500;  // sends held in memory at most (set in start())
  bool claiming_ = false;
  std::atomic<bool> stopping_{false};
  bool poked_ = false;
  std::deque<WriteJob> unrecorded_;
  std::string store_error_;           // non-empty: sending is paused
  util::UnixTime store_error_since_ = 0;
  // Routes by campaign (keyed by the prepared campaign, which a reload replaces).
  std::map<const void*, std::shared_ptr<const std::vector<size_t>>> routes_;

  std::thread dispatcher_;
  std::vector<std::thread> workers_;

  std::atomic<std::int64_t> sent_{0}, failed_{0}, retried_{0}, skipped_{0}, deferred_{0};
  // Sends completed per second over a short window, for /status.
  mutable std::mutex rate_mutex_;
  mutable std::deque<std::pair<std::int64_t, std::int64_t>> rate_window_;  // (ms, sent total)
};

}  // namespace campaignd::delivery
