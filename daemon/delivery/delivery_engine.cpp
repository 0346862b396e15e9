#include "daemon/delivery/delivery_engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "daemon/campaigns/send_policy.hpp"
#include "daemon/delivery/destination.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/relay_usage.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/store/topics.hpp"
#include "daemon/tracking/inbound/bounce_classifier.hpp"
#include "daemon/util/strings.hpp"
#include "daemon/util/thread_name.hpp"

namespace campaignd::delivery {

namespace {
constexpr auto kIdlePoll = std::chrono::milliseconds(500);
constexpr int kPausedRetrySeconds = 60;
// A read that failed (PostgreSQL restarting, a dropped connection): soon again, by then reconnected.
constexpr int kUnreadableRetrySeconds = 5;
constexpr int kRereadSeconds = 1;
// A wait longer than this goes back to the store (with its reason, for /status) instead of
// holding a place in memory that other destinations could use.
constexpr std::int64_t kParkMs = 2000;
// A relay that is down is probed again after this, doubling up to throttle.max_pause_ms.
constexpr std::int64_t kRelayRetryMs = 5000;
// A rate-limited destination keeps at most this many seconds of its sends in memory.
constexpr double kBufferSeconds = 10;
constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

util::UnixTime wall_after(util::UnixTime wall_now, std::int64_t now_ms, std::int64_t until_ms) {
  if (until_ms <= now_ms) return wall_now;
  return wall_now + (until_ms - now_ms + 999) / 1000;
}

std::string from_domain(const campaigns::Campaign& c) {
  auto at = c.from.address.rfind('@');
  return at == std::string::npos ? "" : util::to_lower(c.from.address.substr(at + 1));
}
}  // namespace

DeliveryEngine::DeliveryEngine(store::Store& store, campaigns::Catalog& catalog, std::vector<RelaySpec> relays,
                               const MessageComposer& composer, const util::Clock& clock, DeliverySettings settings,
                               tracking::EventRecorder* recorder)
    : store_(store), catalog_(catalog), composer_(composer), clock_(clock), settings_(std::move(settings)),
      recorder_(recorder) {
  auto now_ms = steady_ms();
  for (auto& spec : relays) {
    spec.limits.concurrency = std::max(1, spec.limits.concurrency);
    relays_.push_back(
        std::make_unique<Relay>(spec, FlowGate(spec.limits, settings_.throttle, now_ms), SendBudget(spec.budget)));
  }
}

DeliveryEngine::DeliveryEngine(store::Store& store, campaigns::Catalog& catalog, transport::Transport& transport,
                               const MessageComposer& composer, const util::Clock& clock, DeliverySettings settings,
                               tracking::EventRecorder* recorder)
    : DeliveryEngine(store, catalog,
                     std::vector<RelaySpec>{RelaySpec{"default", &transport,
                                                      FlowLimits{settings.concurrency, settings.rate_per_second},
                                                      {}, std::nullopt, {}}},
                     composer, clock, settings, recorder) {}

DeliveryEngine::~DeliveryEngine() { drain(); }

std::int64_t DeliveryEngine::steady_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Status DeliveryEngine::start() {
  // Budgets count what was sent before this start; warm-up schedules keep their first day.
  util::UnixTime now = clock_.now();
  auto loaded = store_.writer().run([&](const store::Database& db) -> Status {
    store::RelayUsageRepository usage(db);
    if (auto s = usage.prune(now - 8 * 86400); !s) return s;
    auto hours = usage.since(now - 8 * 86400);
    if (!hours) return std::unexpected(hours.error());
    for (auto& relay : relays_) {
      if (!relay->budget.limited()) continue;
      for (const auto& h : *hours)
        if (h.relay == relay->spec.name) relay->budget.load(h.hour, h.sent);
      if (!relay->budget.has_warmup()) continue;
      auto started = usage.warmup_started(relay->spec.name);
      if (!started) return std::unexpected(started.error());
      util::UnixTime first_day = relay->spec.warmup_start ? utc_day_start(*relay->spec.warmup_start)
                                 : *started             ? **started
                                                        : utc_day_start(now);
      if (!relay->spec.warmup_start && !*started)
        if (auto s = usage.start_warmup(relay->spec.name, first_day); !s) return s;
      relay->budget.set_warmup_start(first_day);
    }
    return {};
  });
  if (!loaded) return fail("delivery: cannot load relay usage: " + loaded.error());
  int workers = 0;
  for (const auto& r : relays_) workers += r->spec.limits.concurrency;
  high_water_ = static_cast<size_t>(std::max(settings_.batch_size, workers * 4));
  dispatcher_ = std::thread([this] {
    util::name_this_thread("dispatcher");
    dispatch_loop();
  });
  for (size_t r = 0; r < relays_.size(); ++r)
    for (int i = 0; i < relays_[r]->spec.limits.concurrency; ++i)
      workers_.emplace_back([this, r, i] {
        util::name_this_thread("send" + std::to_string(i) + ":" + relays_[r]->spec.name);
        worker_loop(r, i);
      });
  return {};
}

void DeliveryEngine::poke() {
  {
    std::lock_guard lock(mutex_);
    poked_ = true;
  }
  dispatcher_wake_.notify_all();
}

bool DeliveryEngine::idle() const {
  std::lock_guard lock(mutex_);
  return queued_ == 0 && busy_workers_ == 0 && recording_ == 0 && !claiming_ && unrecorded_.empty();
}

DeliveryStats DeliveryEngine::stats() const {
  DeliveryStats s;
  s.sent = sent_;
  s.failed = failed_;
  s.retried = retried_;
  s.skipped = skipped_;
  s.deferred = deferred_;
  {
    std::lock_guard lock(mutex_);
    s.in_flight = static_cast<std::int64_t>(queued_) + busy_workers_;
    s.paused_reason = store_error_;
    s.paused_since = store_error_since_;
    s.unrecorded = static_cast<std::int64_t>(unrecorded_.size());
  }
  std::lock_guard lock(rate_mutex_);
  std::int64_t now_ms = clock_.now_ms();
  rate_window_.emplace_back(now_ms, s.sent);
  while (rate_window_.size() > 1 && rate_window_.front().first < now_ms - 10'000) rate_window_.pop_front();
  if (rate_window_.size() > 1) {
    double seconds = static_cast<double>(rate_window_.back().first - rate_window_.front().first) / 1000.0;
    if (seconds > 0.5)
      s.send_rate = static_cast<double>(rate_window_.back().second - rate_window_.front().second) / seconds;
  }
  return s;
}

namespace {
nlohmann::json flow_json(const FlowSnapshot& s) {
  nlohmann::json j = {{"concurrency", s.configured.concurrency},
                      {"rate", s.configured.rate},
                      {"factor", std::round(s.factor * 100) / 100},
                      {"effective_concurrency", s.effective_concurrency},
                      {"effective_rate", s.effective_rate},
                      {"in_flight", s.in_flight},
                      {"send_rate", s.send_rate},
                      {"paused_s", static_cast<double>(s.paused_for_ms) / 1000.0},
                      {"sent", s.sent},
                      {"deferred", s.deferred},
                      {"failed", s.failed},
                      {"throttles", s.throttles}};
  if (!s.last_reason.empty()) j["last_reason"] = s.last_reason;
  return j;
}
}  // namespace

nlohmann::json DeliveryEngine::flow_status() const {
  std::lock_guard lock(mutex_);
  auto now_ms = steady_ms();
  auto wall = clock_.now();
  nlohmann::json relays = nlohmann::json::array();
  for (const auto& r : relays_) {
    auto j = flow_json(r->gate.snapshot(now_ms));
    j["name"] = r->spec.name;
    j["transport"] = r->spec.transport ? r->spec.transport->describe() : "";
    j["state"] = r->down ? "down" : r->gate.paused(now_ms) ? "throttled" : "up";
    if (r->down) {
      j["down_reason"] = r->down_reason;
      j["retry_in_s"] = static_cast<double>(std::max<std::int64_t>(0, r->retry_at_ms - now_ms)) / 1000.0;
    }
    if (r->spec.budget.window) {
      j["window"] = r->spec.budget.window->to_string();
      j["window_used"] = r->budget.used_in_window(wall);
    }
    if (r->budget.has_warmup()) {
      j["warmup_used_today"] = r->budget.used_today(wall);
      if (auto cap = r->budget.today_cap(wall)) j["warmup_cap_today"] = *cap;
      else j["warmup_cap_today"] = nullptr;  // the schedule is over
    }
    if (auto b = r->budget.blocked(wall)) {
      j["state"] = "out of budget";
      j["budget_reason"] = b->reason;
      j["budget_reopens_at"] = util::format_iso8601(b->until);
    }
    relays.push_back(std::move(j));
  }
  nlohmann::json destinations = nlohmann::json::array();
  for (const auto& [name, d] : destinations_) {
    auto j = flow_json(d.gate.snapshot(now_ms));
    j["name"] = name;
    j["queued"] = d.queue.size();
    destinations.push_back(std::move(j));
  }
  return {{"relays", std::move(relays)}, {"destinations", std::move(destinations)}};
}

void DeliveryEngine::drain() {
  stopping_ = true;
  dispatcher_wake_.notify_all();
  room_ready_.notify_all();
  work_ready_.notify_all();
  if (dispatcher_.joinable()) dispatcher_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
  std::vector<store::ClaimedSend> left;
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, d] : destinations_) {
      for (auto& p : d.queue) left.push_back(p.send);
      d.queue.clear();
    }
    queued_ = 0;
  }
  if (!left.empty()) {
    spdlog::info("delivery: returning {} claimed sends to the queue", left.size());
    release(left, 0);
  }
  if (!retry_unrecorded()) {
    std::lock_guard lock(mutex_);
    spdlog::critical("delivery: {} send outcomes could not be written ({}); those sends go again after a restart",
                     unrecorded_.size(), store_error_);
  }
}

util::UnixTime DeliveryEngine::backoff(int attempts) const {
  std::int64_t delay = settings_.retry_base_seconds;
  for (int i = 1; i < attempts && delay < settings_.retry_max_seconds; ++i) delay *= 2;
  return clock_.now() + std::min<std::int64_t>(delay, settings_.retry_max_seconds);
}

void DeliveryEngine::release(const std::vector<store::ClaimedSend>& items, util::UnixTime retry_at) {
  // Back to queued without counting an attempt: the send never reached the transport.
  std::vector<std::int64_t> ids;
  ids.reserve(items.size());
  for (const auto& item : items) ids.push_back(item.id);
  WriteJob job = [ids = std::move(ids), retry_at](const store::Database& db) -> Status {
    auto stmt = db.cached("UPDATE sends SET state = 'queued', next_attempt_at = ?2 WHERE id = ?1 AND state = 'sending'");
    if (!stmt) return std::unexpected(stmt.error());
    for (auto id : ids)
      if (auto r = (*stmt)->bind(1, id).bind(2, retry_at).run(); !r) return r;
    return {};
  };
  auto s = store_.writer().run(job);
  if (s) return;
  // Left as it is, the send would stay 'sending' under this node's lease, which the heartbeat
  // renews for as long as the node lives: nobody would ever claim it again. It is written with
  // the unrecorded outcomes, before sending resumes.
  spdlog::error("delivery: could not return {} send(s) to the queue (tried again before sending resumes): {}",
                items.size(), s.error());
  {
    std::lock_guard lock(mutex_);
    unrecorded_.push_back(std::move(job));
  }
  store_failed("return sends to the queue", s.error());
}

void DeliveryEngine::write_releases(const std::vector<Release>& releases) {
  deferred_ += static_cast<std::int64_t>(releases.size());
  record(releases.front().send, [releases, now = clock_.now(), owner = settings_.node_id](const store::Database& db) -> Status {
    store::SendRepository sends(db, owner);
    for (const auto& r : releases)
      if (auto s = sends.mark_deferred(r.send.id, r.at, 0, r.reason, now); !s) return s;
    return {};
  });
}

std::shared_ptr<const std::vector<size_t>> DeliveryEngine::route_for(const campaigns::Campaign& campaign) {
  // The campaign's relay first; then relays serving its From domain; then relays serving any.
  auto route = std::make_shared<std::vector<size_t>>();
  auto add = [&](size_t i) {
    if (std::find(route->begin(), route->end(), i) == route->end()) route->push_back(i);
  };
  if (campaign.relay)
    for (size_t i = 0; i < relays_.size(); ++i)
      if (relays_[i]->spec.name == *campaign.relay) add(i);
  auto domain = from_domain(campaign);
  for (size_t i = 0; i < relays_.size(); ++i) {
    const auto& domains = relays_[i]->spec.from_domains;
    if (std::find(domains.begin(), domains.end(), domain) != domains.end()) add(i);
  }
  for (size_t i = 0; i < relays_.size(); ++i)
    if (relays_[i]->spec.from_domains.empty()) add(i);
  // Nothing fits (every relay is dedicated to other domains): the first relay, as before.
  if (route->empty()) add(0);
  return route;
}

DeliveryEngine::Destination& DeliveryEngine::destination_locked(const std::string& name, std::int64_t now_ms) {
  auto it = destinations_.find(name);
  if (it != destinations_.end()) return it->second;
  FlowLimits limits;
  if (auto l = settings_.destinations.find(name); l != settings_.destinations.end()) limits = l->second;
  else if (auto d = settings_.destinations.find("*"); d != settings_.destinations.end()) limits = d->second;
  auto& created = destinations_.emplace(name, Destination{FlowGate(limits, settings_.throttle, now_ms), {}}).first->second;
  created.gate.set_share(rate_share_.load());
  return created;
}

DeliveryEngine::Routing DeliveryEngine::route_locked(const Pending& p, std::int64_t now_ms, util::UnixTime wall) {
  Routing out;
  out.wait_until_ms = kNever;
  auto consider = [&](std::int64_t until_ms, std::string reason) {
    if (until_ms < out.wait_until_ms) {
      out.wait_until_ms = until_ms;
      out.reason = std::move(reason);
    }
  };
  for (size_t i : *p.route) {
    Relay& r = *relays_[i];
    if (r.down && (now_ms < r.retry_at_ms || r.probing)) {
      consider(std::max(r.retry_at_ms, now_ms + 50), "relay " + r.spec.name + " is down: " + r.down_reason);
      continue;
    }
    if (r.gate.paused(now_ms)) {
      consider(r.gate.paused_until(), "relay " + r.spec.name + " asked us to slow down: " +
                                          r.gate.snapshot(now_ms).last_reason);
      continue;
    }
    if (auto b = r.budget.blocked(wall)) {
      consider(now_ms + (b->until - wall) * 1000, "relay " + r.spec.name + ": " + b->reason);
      continue;
    }
    out.relay = i;
    return out;
  }
  out.wait_until_wall = wall_after(wall, now_ms, out.wait_until_ms);
  return out;
}

void DeliveryEngine::park_locked(Destination& d, std::int64_t until_ms, util::UnixTime until_wall,
                                 const std::string& reason, std::vector<Release>& releases) {
  (void)until_ms;
  for (auto& p : d.queue) releases.push_back({p.send, until_wall, reason});
  queued_ -= d.queue.size();
  d.queue.clear();
}

std::optional<DeliveryEngine::Pending> DeliveryEngine::take_locked(size_t relay, std::int64_t now_ms,
                                                                   std::int64_t& wake_ms,
                                                                   std::vector<Release>& releases, bool riding) {
  if (queued_ == 0) return std::nullopt;
  if (!store_error_.empty()) return std::nullopt;  // paused until the store takes writes again
  util::UnixTime wall = clock_.now();
  auto it = destinations_.upper_bound(cursor_);
  for (size_t n = 0; n < destinations_.size(); ++n, ++it) {
    if (it == destinations_.end()) it = destinations_.begin();
    auto& [name, d] = *it;
    if (d.queue.empty()) continue;
    if (d.gate.paused(now_ms)) {
      if (d.gate.paused_until() - now_ms > kParkMs) {
        park_locked(d, d.gate.paused_until(), wall_after(wall, now_ms, d.gate.paused_until()),
                    "deferred: " + name + " asked us to slow down: " + d.gate.snapshot(now_ms).last_reason, releases);
      } else {
        wake_ms = std::min(wake_ms, d.gate.paused_until());
      }
      continue;
    }
    // Sends none of whose relays can take them for a while go back to the store.
    Routing routing = route_locked(d.queue.front(), now_ms, wall);
    while (!routing.relay && routing.wait_until_ms - now_ms > kParkMs) {
      releases.push_back({d.queue.front().send, routing.wait_until_wall, "deferred: " + routing.reason});
      d.queue.pop_front();
      --queued_;
      if (d.queue.empty()) break;
      routing = route_locked(d.queue.front(), now_ms, wall);
    }
    if (d.queue.empty()) continue;
    if (!routing.relay) {
      wake_ms = std::min(wake_ms, routing.wait_until_ms);
      continue;
    }
    if (*routing.relay != relay) continue;  // another relay's workers take it
    if (auto later = d.gate.admit(now_ms)) {
      wake_ms = std::min(wake_ms, *later);
      continue;
    }
    Relay& r = *relays_[relay];
    if (auto later = riding ? r.gate.admit_riding(now_ms) : r.gate.admit(now_ms)) {
      d.gate.cancel();
      wake_ms = std::min(wake_ms, *later);
      return std::nullopt;  // this relay is the limit, whatever the destination
    }
    Pending out = std::move(d.queue.front());
    d.queue.pop_front();
    --queued_;
    out.relay = relay;
    out.riding = riding;
    if (r.budget.limited()) {
      r.budget.take(wall);
      out.budget_taken_at = wall;
    }
    if (r.down) r.probing = true;
    cursor_ = name;
    return out;
  }
  return std::nullopt;
}

void DeliveryEngine::dispatch_loop() {
  const size_t high_water = high_water_;
  auto reader = store_.open_reader();
  if (!reader) {
    spdlog::critical("delivery dispatcher: cannot open the database: {}", reader.error());
    return;
  }
  while (!stopping_) {
    if (auto s = reader->reconnect_if_lost(); !s) spdlog::warn("delivery dispatcher: {}", s.error());
    bool paused = false;
    {
      std::lock_guard lock(mutex_);
      paused = !store_error_.empty();
    }
    if (paused) {
      if (!retry_unrecorded()) {
        std::unique_lock lock(mutex_);
        dispatcher_wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_.load(); });
        continue;
      }
      store_recovered();
    }
    size_t want = 0;
    {
      std::unique_lock lock(mutex_);
      room_ready_.wait(lock, [&] { return stopping_ || queued_ < high_water / 2 || !store_error_.empty(); });
      if (stopping_) break;
      if (!store_error_.empty()) continue;  // retry the unrecorded outcomes first
      claiming_ = true;
      want = high_water - std::min(high_water, queued_);
    }
    std::vector<store::ClaimedSend> claimed;
    auto s = store_.writer().run([&](const store::Database& db) -> Status {
      util::UnixTime now = clock_.now();
      auto r = store::SendRepository(db).claim_due(now, static_cast<int>(std::max<size_t>(1, want)),
                                                   {settings_.node_id, now + settings_.lease_seconds});
      if (!r) return std::unexpected(r.error());
      claimed = std::move(*r);
      return {};
    });
    if (!s) {
      store_failed("claim sends", s.error());
      std::unique_lock lock(mutex_);
      dispatcher_wake_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_.load(); });
      continue;
    }

    // Where each one goes: its destination and the relays its campaign may use. The recipients
    // are read together (one statement instead of one per send); a worker reads their status
    // and suppression again just before sending.
    std::vector<Pending> ready;
    std::vector<store::ClaimedSend> orphaned;
    std::vector<store::Contact> recipients;
    if (!claimed.empty()) {
      std::vector<std::int64_t> ids;
      ids.reserve(claimed.size());
      for (const auto& c : claimed) ids.push_back(c.contact_id);
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
      auto read = store::ContactRepository(*reader).find_many(ids);
      if (!read) {
        // Without its recipient a send has no destination, and sends without one would share a
        // single queue and its push-backs: one domain's 421 would hold them all. They go back
        // to the store for a moment; the next claim reads them again (reconnected if need be).
        spdlog::warn("delivery: cannot read the recipients of claimed sends, claiming them again in {} s: {}",
                     kRereadSeconds, read.error());
        release(claimed, clock_.now() + kRereadSeconds);
        std::unique_lock lock(mutex_);
        claiming_ = false;
        dispatcher_wake_.wait_for(lock, std::chrono::seconds(kRereadSeconds), [&] { return stopping_.load(); });
        continue;
      }
      recipients = std::move(*read);
    }
    std::vector<std::shared_ptr<const store::Contact>> shared(recipients.size());
    for (auto& c : claimed) {
      auto campaign = catalog_.find(c.campaign_id);
      if (!campaign) {
        orphaned.push_back(c);  // its file is gone or invalid: it waits until the file is back
        continue;
      }
      Pending p;
      auto found = std::lower_bound(recipients.begin(), recipients.end(), c.contact_id,
                                    [](const store::Contact& r, std::int64_t id) { return r.id < id; });
      if (found != recipients.end() && found->id == c.contact_id) {
        auto& one = shared[static_cast<size_t>(found - recipients.begin())];
        if (!one) one = std::make_shared<const store::Contact>(std::move(*found));
        p.contact = one;
        p.destination = destination_of(one->email);
      }
      p.send = std::move(c);
      auto key = static_cast<const void*>(campaign.get());
      auto route = routes_.find(key);
      if (route == routes_.end()) {
        if (routes_.size() > 1000) routes_.clear();
        route = routes_.emplace(key, route_for(campaign->campaign)).first;
      }
      p.route = route->second;
      ready.push_back(std::move(p));
    }
    if (!orphaned.empty()) release(orphaned, clock_.now() + kPausedRetrySeconds);

    std::vector<Release> overflow;
    {
      std::unique_lock lock(mutex_);
      claiming_ = false;
      auto now_ms = steady_ms();
      auto wall = clock_.now();
      for (auto& p : ready) {
        Destination& d = destination_locked(p.destination, now_ms);
        // A rate-limited destination holds a few seconds of its sends, and never most of the
        // buffer, so the others keep flowing; the rest wait in the store until their turn.
        double rate = d.gate.snapshot(now_ms).effective_rate;
        if (rate > 0) {
          auto cap = static_cast<size_t>(std::max(8.0, std::min(rate * kBufferSeconds, high_water / 4.0)));
          if (d.queue.size() >= cap) {
            auto wait_s = static_cast<util::UnixTime>(std::ceil(static_cast<double>(d.queue.size()) / rate));
            overflow.push_back({p.send, wall + std::max<util::UnixTime>(1, wait_s), ""});
            continue;
          }
        }
        d.queue.push_back(std::move(p));
        ++queued_;
      }
    }
    if (!overflow.empty()) {
      // Not deferrals: only our own pacing, so no reason to show.
      auto s2 = store_.writer().run([&](const store::Database& db) -> Status {
        auto stmt = db.cached("UPDATE sends SET state = 'queued', next_attempt_at = ?2 WHERE id = ?1 AND state = 'sending'");
        if (!stmt) return std::unexpected(stmt.error());
        for (const auto& o : overflow)
          if (auto r = (*stmt)->bind(1, o.send.id).bind(2, o.at).run(); !r) return r;
        return {};
      });
      if (!s2) spdlog::error("delivery: could not return sends to the queue: {}", s2.error());
    }
    if (!ready.empty()) {
      work_ready_.notify_all();
      if (ready.size() > overflow.size()) continue;
    }
    std::unique_lock lock(mutex_);
    dispatcher_wake_.wait_for(lock, kIdlePoll, [&] { return stopping_ || poked_; });
    poked_ = false;
  }
}

void DeliveryEngine::worker_loop(size_t relay, int index) {
  const std::string& relay_name = relays_[relay]->spec.name;
  auto reader = store_.open_reader();
  if (!reader) {
    spdlog::critical("delivery worker {}/{}: cannot open the database: {}", relay_name, index, reader.error());
    return;
  }
  WorkerState worker;
  worker.reader = &*reader;
  std::unique_ptr<transport::Session> session;
  while (true) {
    if (auto s = reader->reconnect_if_lost(); !s)
      spdlog::warn("delivery worker {}/{}: {}", relay_name, index, s.error());
    std::optional<Pending> item;
    std::optional<Prepared> taken_prepared;
    std::vector<Release> releases;
    bool stop = false;
    bool wake_dispatcher = false;
    bool settle_first = false;
    if (worker.next) {
      // Taken and rendered while the last one was in flight; busy_workers_ still counts us.
      std::lock_guard lock(mutex_);
      item = std::move(worker.next);
      worker.next.reset();
      taken_prepared = std::move(worker.next_prepared);
      worker.next_prepared = {};
      item->riding = false;
      relays_[relay]->gate.occupy();
    } else {
      std::unique_lock lock(mutex_);
      while (true) {
        if (stopping_) {
          stop = true;
          break;
        }
        auto now_ms = steady_ms();
        std::int64_t wake_ms = now_ms + 250;
        item = take_locked(relay, now_ms, wake_ms, releases);
        if (item || !releases.empty()) break;
        // Nothing to render meanwhile: learn how the last outcome went before waiting for work.
        if (!worker.recordings.empty()) {
          settle_first = true;
          break;
        }
        ++waiting_workers_;
        work_ready_.wait_until(lock, std::chrono::steady_clock::time_point(
                                         std::chrono::milliseconds(std::max(wake_ms, now_ms + 1))));
        --waiting_workers_;
      }
      if (item) ++busy_workers_;
      wake_dispatcher = queued_ < high_water_ / 2;
    }
    if (!releases.empty()) write_releases(releases);
    // Only the dispatcher waits on room_ready_, and only for the buffer to fall below half.
    if (wake_dispatcher) room_ready_.notify_one();
    if (stop || settle_first) {
      finish_recording(worker);
      if (stop) return;
      continue;
    }
    if (!item) continue;
    if (!session) {
      auto opened = relays_[relay]->spec.transport->open_session();
      if (opened) {
        session = std::move(*opened);
      } else {
        spdlog::warn("delivery worker {}/{}: cannot open a transport session: {}", relay_name, index,
                     opened.error());
      }
    }
    // Rendered while the previous outcome commits; handed over only once it has (deliver's
    // go-ahead).
    Prepared prepared = taken_prepared ? std::move(*taken_prepared) : prepare(*item, *reader);
    std::optional<WriteJob> write;
    bool wake_workers = false;
    bool paused = false;
    {
      std::lock_guard lock(mutex_);
      paused = sending_paused_locked();
    }
    auto done = paused ? Delivered{Verdict::withheld, {}} : deliver(*item, prepared, session.get(), worker, index);
    {
      std::lock_guard lock(mutex_);
      if (done.verdict == Verdict::withheld) {
        // Sending is paused (the store refused an outcome) or we stop: this one waits in line, unsent.
        // (A next message is only ever kept with a go-ahead, so none is held here.)
        put_back_locked(*item);
        --busy_workers_;
        continue;
      }
      write = settle(*item, done);
    }
    if (write) record(item->send, std::move(*write), &worker);
    {
      std::lock_guard lock(mutex_);
      if (!worker.next) --busy_workers_;
      // A worker only waits when nothing it may take is ready: a finished send may have freed
      // a gate's slot, or put a send back in line for another relay. Busy workers loop by
      // themselves, so in full flow nobody is woken (no thundering herd per message).
      wake_workers = waiting_workers_ > 0 && queued_ > 0;
    }
    if (wake_workers) work_ready_.notify_all();
  }
}

void DeliveryEngine::put_back_locked(Pending& item) {
  (void)settle(item, {Verdict::returned, {}});
  Destination& dest = destination_locked(item.destination, steady_ms());
  dest.queue.push_front(std::move(item));
  ++queued_;
  work_ready_.notify_all();
}

DeliveryEngine::Prepared DeliveryEngine::prepare(const Pending& pending, const store::Database& reader) {
  const store::ClaimedSend& item = pending.send;
  Prepared out;
  out.campaign = catalog_.find(item.campaign_id);
  if (!out.campaign) return out;
  out.contact = pending.contact;
  if (!out.contact) {
    // Not read with its batch: read it now.
    auto contact = store::ContactRepository(reader).find_by_id(item.contact_id);
    if (!contact) {
      out.read_error = contact.error();
      return out;
    }
    if (!*contact) return out;
    out.contact = std::make_shared<const store::Contact>(std::move(**contact));
  }
  nlohmann::json send_context;
  if (item.context) {
    send_context = nlohmann::json::parse(*item.context, nullptr, false);
    if (send_context.is_discarded()) send_context = nlohmann::json();
  }
  out.message = composer_.compose(*out.campaign, item.variant, *out.contact, item.id, clock_.now(), send_context);
  return out;
}

DeliveryEngine::Delivered DeliveryEngine::deliver(const Pending& pending, Prepared& prepared,
                                                  transport::Session* session, WorkerState& worker, int index) {
  const store::ClaimedSend& item = pending.send;
  const auto& campaign = prepared.campaign;
  if (!campaign) {
    // The campaign's file is gone or invalid: the send waits until it is back.
    release({item}, clock_.now() + kPausedRetrySeconds);
    return {Verdict::returned, {}};
  }
  const std::string& name = campaign->campaign.name;
  auto skip = [&](const std::string& reason) -> Delivered {
    ++skipped_;
    spdlog::info("campaign {} contact {}: skipped: {}", name, item.contact_id, reason);
    record(
        item,
        [id = item.id, reason, now = clock_.now(), owner = settings_.node_id](const store::Database& db) {
          return store::SendRepository(db, owner).mark_skipped(id, reason, now);
        },
        &worker);
    return {Verdict::skipped, reason};
  };
  auto unreadable = [&](const std::string& what, const std::string& error) -> Delivered {
    spdlog::error("campaign {} contact {}: cannot read {}: {}", name, item.contact_id, what, error);
    release({item}, clock_.now() + kUnreadableRetrySeconds);
    return {Verdict::returned, {}};
  };
  if (!prepared.read_error.empty()) return unreadable("contact", prepared.read_error);

  // Checked now, not when the list was built nor when the message was rendered: an unsubscribe
  // during the campaign holds. Read while this worker's previous outcome may still be committing,
  // unless that outcome is about the same contact (a hard bounce it records suppresses the
  // address; a send counts towards the frequency cap): then it is waited for first.
  if (std::any_of(worker.recordings.begin(), worker.recordings.end(),
                  [&](const Recording& r) { return r.send.contact_id == item.contact_id; })) {
    if (!finish_recording(worker)) return {Verdict::withheld, {}};
  }
  const store::Database& reader = *worker.reader;
  auto now_mailable = store::ContactRepository(reader).mailability(item.contact_id, campaign->campaign.topic);
  if (!now_mailable) return unreadable("contact", now_mailable.error());
  if (!*now_mailable) return skip("contact no longer exists");
  const auto& mailable = **now_mailable;
  // The confirmation mail of double opt-in goes to pending contacts, everything else to subscribed ones.
  const char* wanted = campaign->campaign.kind == campaigns::CampaignKind::confirmation ? "pending" : "subscribed";
  if (mailable.status != wanted) return skip("contact is " + mailable.status);
  if (mailable.suppressed) return skip("address is suppressed");
  if (mailable.left_topic) return skip("contact left topic " + *campaign->campaign.topic);
  // The frequency cap, again: other campaigns may have sent since this list was built.
  auto refusal = campaigns::send_time_refusal(reader, *campaign, item, clock_.now());
  if (!refusal) return unreadable("send policy", refusal.error());
  if (*refusal) return skip(**refusal);
  if (!prepared.contact || prepared.contact->email != mailable.email) {
    // Changed since it was read (or rendered for a contact read before it was replaced): again.
    Pending fresh;
    fresh.send = item;
    prepared = prepare(fresh, reader);
    if (!prepared.read_error.empty()) return unreadable("contact", prepared.read_error);
    if (!prepared.contact) return skip("contact no longer exists");
  }

  auto& message = *prepared.message;
  if (!message) {
    ++failed_;
    spdlog::error("campaign {} contact {}: cannot render: {}", name, item.contact_id, message.error());
    record(
        item,
        [id = item.id, err = message.error(), now = clock_.now(), owner = settings_.node_id](const store::Database& db) {
          return store::SendRepository(db, owner).mark_failed(id, 0, "render: " + err, now);
        },
        &worker);
    return {Verdict::failed, "render"};
  }
  // A campaign's `throttle:` holds for all nodes together, as relay and destination rates do.
  if (const auto& throttle = campaign->campaign.throttle) campaign->throttle.set_rate(throttle->per_second() * rate_share_);
  if (!campaign->throttle.acquire(stopping_)) {
    release({item}, 0);
    return {Verdict::returned, {}};
  }
  transport::SendResult result;
  if (session) {
    result = session->send({message->mail_from, message->rcpt_to}, message->bytes,
                           [&] { return hand_over(pending, *session, worker); });
  } else {
    result = {transport::Outcome::retry, 0, "", "no transport session", transport::ReplyStage::none};
  }
  if (result.outcome == transport::Outcome::withheld) return {Verdict::withheld, {}};
  const std::string& relay_name = relays_[pending.relay]->spec.name;
  if (result.outcome != transport::Outcome::sent)
    spdlog::warn("campaign {} contact {}: relay {} worker {}: {} {} {}", name, item.contact_id, relay_name, index,
                 result.code, result.enhanced, result.reply);

  std::string reply = result.enhanced.empty() ? result.reply : result.enhanced + " " + result.reply;
  if (result.code > 0) reply = std::to_string(result.code) + " " + reply;
  switch (classify_push_back(result)) {
    case PushBack::none:
      ++sent_;
      record_sent(pending, result, message->message_id, worker);
      return {Verdict::sent, {}};
    case PushBack::relay_down:
      return {Verdict::relay_down, reply};
    case PushBack::relay_throttle:
      return {Verdict::deferred_relay, reply};
    case PushBack::domain_throttle:
      return {Verdict::deferred_domain, reply};
    case PushBack::message:
      break;
  }
  if (result.outcome == transport::Outcome::retry && item.attempts + 1 < settings_.max_attempts) {
    ++retried_;
    record(
        item,
        [item, result, at = backoff(item.attempts + 1), now = clock_.now(),
         owner = settings_.node_id](const store::Database& db) {
          return store::SendRepository(db, owner).mark_retry(item.id, at, result.code, result.reply, now);
        },
        &worker);
    return {Verdict::retried, reply};
  }
  ++failed_;
  record_failure(item, result, worker);
  return {Verdict::failed, reply};
}

// The envelope goes out while the previous outcome commits; the message itself only once it is
// recorded (unrecorded_per_session = 1), so a crash sends at most one message twice. Meanwhile
// the worker takes and renders its next message: one round trip per message instead of two.
transport::Handover DeliveryEngine::hand_over(const Pending& item, const transport::Session& session,
                                              WorkerState& worker) {
  std::optional<Pending> next;
  std::vector<Release> releases;
  if (session.opens_next() && !worker.next) {
    std::lock_guard lock(mutex_);
    std::int64_t wake_ms = 0;
    if (!sending_paused_locked()) next = take_locked(item.relay, steady_ms(), wake_ms, releases, true);
  }
  if (!releases.empty()) write_releases(releases);
  Prepared next_prepared;
  if (next) next_prepared = prepare(*next, *worker.reader);
  bool recorded = finish_recording(worker, unrecorded_allowed());
  std::lock_guard lock(mutex_);
  if (!recorded || sending_paused_locked()) {
    if (next) put_back_locked(*next);
    return transport::Handover(false);
  }
  transport::Handover handover(true);
  if (!next) return handover;
  // A campaign throttle may hold the next message back for a while: a server waiting for its
  // content that long might give up on the connection.
  const auto& composed = next_prepared.message;
  if (composed && *composed && next_prepared.campaign && !next_prepared.campaign->campaign.throttle) {
    handover.next = transport::Envelope{(*composed)->mail_from, (*composed)->rcpt_to};
    handover.next_size = (*composed)->bytes.size();
  }
  worker.next = std::move(next);
  worker.next_prepared = std::move(next_prepared);
  return handover;
}

std::optional<DeliveryEngine::WriteJob> DeliveryEngine::settle(Pending& item, const Delivered& done) {
  Relay& relay = *relays_[item.relay];
  Destination& dest = destination_locked(item.destination, steady_ms());
  auto now_ms = steady_ms();
  if (item.budget_taken_at != 0 && done.verdict != Verdict::sent) {
    relay.budget.give_back(item.budget_taken_at);
    item.budget_taken_at = 0;
  }
  auto relay_answered = [&] {
    if (relay.down) spdlog::info("relay {} is back up", relay.spec.name);
    relay.down = false;
    relay.probing = false;
    relay.down_pause_ms = 0;
  };
  auto back_in_line = [&] {
    dest.queue.push_front(std::move(item));
    ++queued_;
  };
  switch (done.verdict) {
    case Verdict::sent:
      dest.gate.finish(FlowGate::Outcome::sent, now_ms);
      relay.gate.finish(FlowGate::Outcome::sent, now_ms);
      ++relay.sent;
      relay_answered();
      return std::nullopt;
    case Verdict::failed:
      dest.gate.finish(FlowGate::Outcome::failed, now_ms);
      relay.gate.finish(FlowGate::Outcome::failed, now_ms);
      relay_answered();
      return std::nullopt;
    case Verdict::retried:
      dest.gate.finish(FlowGate::Outcome::deferred, now_ms);
      relay.gate.finish(FlowGate::Outcome::deferred, now_ms);
      relay_answered();
      return std::nullopt;
    case Verdict::skipped:
    case Verdict::returned:
    case Verdict::withheld:
      dest.gate.cancel();
      if (item.riding) relay.gate.cancel_riding();
      else relay.gate.cancel();
      if (relay.probing) relay.probing = false;  // the probe never reached the relay
      return std::nullopt;
    case Verdict::deferred_domain: {
      dest.gate.finish(FlowGate::Outcome::throttled, now_ms, done.reason);
      relay.gate.finish(FlowGate::Outcome::deferred, now_ms);
      relay_answered();
      ++deferred_;
      auto at = wall_after(clock_.now(), now_ms, dest.gate.paused_until());
      spdlog::warn("destination {} asked us to slow down ({}); its sends wait until {}", item.destination,
                   done.reason, util::format_iso8601(at));
      return [id = item.send.id, at, reason = "deferred: " + item.destination + " asked us to slow down: " + done.reason,
              now = clock_.now(), owner = settings_.node_id](const store::Database& db) {
        return store::SendRepository(db, owner).mark_deferred(id, at, 0, reason, now);
      };
    }
    case Verdict::deferred_relay:
      relay.gate.finish(FlowGate::Outcome::throttled, now_ms, done.reason);
      dest.gate.cancel();
      relay_answered();
      spdlog::warn("relay {} asked us to slow down: {}", relay.spec.name, done.reason);
      back_in_line();
      return std::nullopt;
    case Verdict::relay_down:
      relay.gate.cancel();
      dest.gate.cancel();
      if (!relay.down) {
        relay.down = true;
        relay.down_pause_ms = kRelayRetryMs;
      } else if (relay.probing) {
        relay.down_pause_ms = std::min(settings_.throttle.max_pause_ms, relay.down_pause_ms * 2);
      }
      if (relay.probing || relay.retry_at_ms <= now_ms) {
        relay.retry_at_ms = now_ms + relay.down_pause_ms;
        spdlog::warn("relay {} is down ({}); trying it again in {} s{}", relay.spec.name, done.reason,
                     relay.down_pause_ms / 1000, item.route->size() > 1 ? ", its sends go to the next relay" : "");
      }
      relay.probing = false;
      relay.down_reason = done.reason;
      back_in_line();
      return std::nullopt;
  }
  return std::nullopt;
}

void DeliveryEngine::set_rate_share(double share) {
  std::lock_guard lock(mutex_);
  if (share == rate_share_.load()) return;
  rate_share_ = share;
  for (auto& r : relays_) r->gate.set_share(share);
  for (auto& [name, d] : destinations_) d.gate.set_share(share);
}

void DeliveryEngine::store_failed(const std::string& what, const std::string& error) {
  std::lock_guard lock(mutex_);
  if (store_error_.empty()) {
    store_error_since_ = clock_.now();
    spdlog::error("delivery: sending paused: cannot {}: {}", what, error);
  }
  store_error_ = "cannot " + what + ": " + error;
  room_ready_.notify_all();  // the dispatcher retries the writes
}

void DeliveryEngine::store_recovered() {
  std::lock_guard lock(mutex_);
  if (store_error_.empty() || !unrecorded_.empty()) return;
  spdlog::info("delivery: the store takes writes again; sending resumes");
  store_error_.clear();
  store_error_since_ = 0;
  work_ready_.notify_all();
}

void DeliveryEngine::record(const store::ClaimedSend& item, WriteJob job, WorkerState* worker) {
  if (worker) {
    // At most unrecorded_per_session writes in flight per worker: older ones settle first.
    finish_recording(*worker, unrecorded_allowed());
    // Not gathered: the writer would wait for company that a handful of sessions never make
    // (it gathers 16), and every session's next message waits for this commit. Outcomes that
    // arrive while a commit runs still share the next one. The worker renders its next
    // message meanwhile.
    auto done = store_.writer().submit(job);
    ++recording_;
    worker->recordings.push_back(Recording{std::move(done), std::move(job), item});
    return;
  }
  auto s = store_.writer().submit(job).get();
  if (s) return;
  spdlog::error("campaign id {} contact {}: could not record the outcome of send {}: {}", item.campaign_id,
                item.contact_id, item.id, s.error());
  {
    std::lock_guard lock(mutex_);
    unrecorded_.push_back(std::move(job));
  }
  store_failed("record send outcomes", s.error());
}

bool DeliveryEngine::finish_recording(WorkerState& worker, size_t keep) {
  bool all_written = true;
  while (worker.recordings.size() > keep) {
    Recording r = std::move(worker.recordings.front());
    worker.recordings.pop_front();
    auto s = r.done.get();
    if (s) {
      --recording_;
      continue;
    }
    spdlog::error("campaign id {} contact {}: could not record the outcome of send {}: {}", r.send.campaign_id,
                  r.send.contact_id, r.send.id, s.error());
    {
      std::lock_guard lock(mutex_);
      unrecorded_.push_back(std::move(r.job));
    }
    --recording_;  // after the job is kept, so idle() never misses it
    store_failed("record send outcomes", s.error());
    all_written = false;
  }
  return all_written;
}

bool DeliveryEngine::retry_unrecorded() {
  std::deque<WriteJob> jobs;
  {
    std::lock_guard lock(mutex_);
    jobs.swap(unrecorded_);
  }
  while (!jobs.empty()) {
    auto s = store_.writer().run(jobs.front());
    if (!s) {
      {
        std::lock_guard lock(mutex_);
        for (auto it = jobs.rbegin(); it != jobs.rend(); ++it) unrecorded_.push_front(std::move(*it));
      }
      store_failed("record send outcomes", s.error());
      return false;
    }
    jobs.pop_front();
  }
  return true;
}

void DeliveryEngine::record_sent(const Pending& pending, const transport::SendResult& result,
                                 const std::string& message_id, WorkerState& worker) {
  util::UnixTime now = clock_.now();
  const store::ClaimedSend& item = pending.send;
  std::optional<std::string> counted_relay;
  if (relays_[pending.relay]->budget.limited()) counted_relay = relays_[pending.relay]->spec.name;
  // The worker waits for this commit before its next message goes out: it never has more than
  // one message sent but not recorded, which bounds what a crash can make us send twice.
  record(item, [item, message_id, code = result.code, now, counted_relay](const store::Database& db) -> Status {
    if (auto s = store::SendRepository(db).mark_sent(item.id, message_id, code, now); !s) return s;
    if (counted_relay)
      if (auto s = store::RelayUsageRepository(db).add_sent(*counted_relay, now); !s) return s;
    store::Event e;
    e.kind = "sent";
    e.contact_id = item.contact_id;
    e.campaign_id = item.campaign_id;
    e.send_id = item.id;
    e.at = now;
    return store::EventRepository(db).insert(e);
  }, &worker);
}

void DeliveryEngine::record_failure(const store::ClaimedSend& item, const transport::SendResult& result,
                                    WorkerState& worker) {
  record(item, [this, item, result, now = clock_.now()](const store::Database& db) -> Status {
    std::string reply = result.enhanced.empty() ? result.reply : result.enhanced + " " + result.reply;
    if (auto s = store::SendRepository(db, settings_.node_id).mark_failed(item.id, result.code, reply, now); !s)
      return s;
    // A refusal at send time is a bounce too (RFC 3463): 5.1.x suppresses the address,
    // 5.7.x (policy, reputation) is about us and suppresses no one.
    if (!recorder_ || result.code < 500) return {};
    auto verdict = tracking::inbound::classify_bounce(result.enhanced, std::to_string(result.code) + " " + reply);
    tracking::ResponseEvent e;
    e.kind = "bounced";
    e.send_id = item.id;
    e.at = now;
    e.bounce_type = verdict.klass == tracking::inbound::BounceClass::hard ? "hard" : "soft";
    e.reason = reply;
    e.provider_event_id = "smtp:" + std::to_string(item.id);
    e.data = {{"source", "smtp"}, {"classification", std::string(tracking::inbound::to_string(verdict.klass))}};
    if (verdict.klass == tracking::inbound::BounceClass::policy) e.data["policy"] = true;
    auto recorded = recorder_->record_in(db, e);
    if (!recorded) return std::unexpected(recorded.error());
    return {};
  }, &worker);
}

}  // namespace campaignd::delivery
