#include "daemon/delivery/delivery_engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/store/topics.hpp"
#include "daemon/tracking/inbound/bounce_classifier.hpp"

namespace campaignd::delivery {

namespace {
constexpr auto kIdlePoll = std::chrono::milliseconds(500);
constexpr int kPausedRetrySeconds = 60;
}  // namespace

DeliveryEngine::DeliveryEngine(store::Store& store, campaigns::Catalog& catalog, transport::Transport& transport,
                               const MessageComposer& composer, const util::Clock& clock, DeliverySettings settings,
                               tracking::EventRecorder* recorder)
    : store_(store),
      catalog_(catalog),
      transport_(transport),
      composer_(composer),
      clock_(clock),
      settings_(settings),
      recorder_(recorder),
      rate_(settings.rate_per_second) {}

DeliveryEngine::~DeliveryEngine() { drain(); }

void DeliveryEngine::start() {
  dispatcher_ = std::thread([this] { dispatch_loop(); });
  for (int i = 0; i < settings_.concurrency; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
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
  return work_.empty() && busy_workers_ == 0 && !claiming_;
}

DeliveryStats DeliveryEngine::stats() const {
  DeliveryStats s;
  s.sent = sent_;
  s.failed = failed_;
  s.retried = retried_;
  s.skipped = skipped_;
  {
    std::lock_guard lock(mutex_);
    s.in_flight = static_cast<std::int64_t>(work_.size()) + busy_workers_;
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

void DeliveryEngine::drain() {
  if (stopping_.exchange(true)) {
    // Already draining or drained: make sure threads are joined.
  }
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
    left.assign(work_.begin(), work_.end());
    work_.clear();
  }
  if (!left.empty()) {
    spdlog::info("delivery: returning {} claimed sends to the queue", left.size());
    release(left, 0);
  }
}

util::UnixTime DeliveryEngine::backoff(int attempts) const {
  std::int64_t delay = settings_.retry_base_seconds;
  for (int i = 1; i < attempts && delay < settings_.retry_max_seconds; ++i) delay *= 2;
  return clock_.now() + std::min<std::int64_t>(delay, settings_.retry_max_seconds);
}

void DeliveryEngine::release(const std::vector<store::ClaimedSend>& items, util::UnixTime retry_at) {
  // Back to queued without counting an attempt: the send never reached the transport.
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    auto stmt = db.cached("UPDATE sends SET state = 'queued', next_attempt_at = ?2 WHERE id = ?1 AND state = 'sending'");
    if (!stmt) return std::unexpected(stmt.error());
    for (const auto& item : items)
      if (auto r = (*stmt)->bind(1, item.id).bind(2, retry_at).run(); !r) return r;
    return {};
  });
  if (!s) spdlog::error("delivery: could not return sends to the queue: {}", s.error());
}

void DeliveryEngine::dispatch_loop() {
  const size_t high_water = static_cast<size_t>(std::max(settings_.batch_size, settings_.concurrency * 4));
  while (!stopping_) {
    {
      std::unique_lock lock(mutex_);
      room_ready_.wait(lock, [&] { return stopping_ || work_.size() < high_water / 2; });
      if (stopping_) break;
      claiming_ = true;
    }
    int want = static_cast<int>(high_water - std::min(high_water, work_.size()));
    std::vector<store::ClaimedSend> claimed;
    auto s = store_.writer().run([&](const store::Database& db) -> Status {
      auto r = store::SendRepository(db).claim_due(clock_.now(), std::max(1, want));
      if (!r) return std::unexpected(r.error());
      claimed = std::move(*r);
      return {};
    });
    {
      std::unique_lock lock(mutex_);
      claiming_ = false;
      for (auto& c : claimed) work_.push_back(c);
    }
    if (!s) spdlog::error("delivery: claiming sends failed: {}", s.error());
    if (!claimed.empty()) {
      work_ready_.notify_all();
      continue;
    }
    std::unique_lock lock(mutex_);
    dispatcher_wake_.wait_for(lock, kIdlePoll, [&] { return stopping_ || poked_; });
    poked_ = false;
  }
}

void DeliveryEngine::worker_loop(int index) {
  auto reader = store_.open_reader();
  if (!reader) {
    spdlog::critical("delivery worker {}: cannot open the database: {}", index, reader.error());
    return;
  }
  std::unique_ptr<transport::Session> session;
  while (true) {
    store::ClaimedSend item;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [&] { return stopping_ || !work_.empty(); });
      if (stopping_ || work_.empty()) return;
      item = work_.front();
      work_.pop_front();
      ++busy_workers_;
    }
    room_ready_.notify_one();
    if (!session) {
      auto opened = transport_.open_session();
      if (opened) {
        session = std::move(*opened);
      } else {
        spdlog::warn("delivery worker {}: cannot open a transport session: {}", index, opened.error());
      }
    }
    deliver(item, session.get(), *reader, index);
    {
      std::lock_guard lock(mutex_);
      --busy_workers_;
    }
  }
}

void DeliveryEngine::deliver(const store::ClaimedSend& item, transport::Session* session,
                             const store::Database& reader, int worker) {
  auto campaign = catalog_.find(item.campaign_id);
  if (!campaign) {
    // The campaign's file is gone or invalid: the send waits until it is back.
    release({item}, clock_.now() + kPausedRetrySeconds);
    return;
  }
  const std::string& name = campaign->campaign.name;
  auto skip = [&](const std::string& reason) {
    ++skipped_;
    spdlog::info("campaign {} contact {}: skipped: {}", name, item.contact_id, reason);
    store_.writer().post([id = item.id, reason, now = clock_.now()](const store::Database& db) {
      return store::SendRepository(db).mark_skipped(id, reason, now);
    });
  };

  // Checked now, not when the list was built: an unsubscribe during the campaign holds.
  store::ContactRepository contacts(reader);
  auto contact = contacts.find_by_id(item.contact_id);
  if (!contact) {
    spdlog::error("campaign {} contact {}: cannot read contact: {}", name, item.contact_id, contact.error());
    release({item}, clock_.now() + kPausedRetrySeconds);
    return;
  }
  if (!*contact) return skip("contact no longer exists");
  // The confirmation mail of double opt-in goes to pending contacts, everything else to subscribed ones.
  const char* wanted = campaign->campaign.kind == campaigns::CampaignKind::confirmation ? "pending" : "subscribed";
  if ((*contact)->status != wanted) return skip("contact is " + (*contact)->status);
  auto suppressed = store::SuppressionRepository(reader).is_suppressed((*contact)->email);
  if (!suppressed) {
    release({item}, clock_.now() + kPausedRetrySeconds);
    return;
  }
  if (*suppressed) return skip("address is suppressed");
  if (const auto& topic = campaign->campaign.topic) {
    auto left = store::TopicRepository(reader).has_left(item.contact_id, *topic);
    if (!left) {
      release({item}, clock_.now() + kPausedRetrySeconds);
      return;
    }
    if (*left) return skip("contact left topic " + *topic);
  }

  nlohmann::json send_context;
  if (item.context) {
    send_context = nlohmann::json::parse(*item.context, nullptr, false);
    if (send_context.is_discarded()) send_context = nlohmann::json();
  }
  auto message =
      composer_.compose(campaign->campaign, campaign->templates, **contact, item.id, clock_.now(), send_context);
  if (!message) {
    ++failed_;
    spdlog::error("campaign {} contact {}: cannot render: {}", name, item.contact_id, message.error());
    store_.writer().post([id = item.id, err = message.error(), now = clock_.now()](const store::Database& db) {
      return store::SendRepository(db).mark_failed(id, 0, "render: " + err, now);
    });
    return;
  }
  if (!rate_.acquire(stopping_) || !campaign->throttle.acquire(stopping_)) {
    release({item}, 0);
    return;
  }
  transport::SendResult result;
  if (session) {
    result = session->send({message->mail_from, message->rcpt_to}, message->bytes);
  } else {
    result = {transport::Outcome::retry, 0, "", "no transport session"};
  }
  if (result.outcome != transport::Outcome::sent)
    spdlog::warn("campaign {} contact {}: worker {}: {} {} {}", name, item.contact_id, worker, result.code,
                 result.enhanced, result.reply);
  record_outcome(item, result, message->message_id);
}

void DeliveryEngine::wait_recorded(const store::ClaimedSend& item, std::future<Status> done) {
  if (auto s = done.get(); !s)
    spdlog::error("campaign id {} contact {}: could not record the outcome of send {}: {}", item.campaign_id,
                  item.contact_id, item.id, s.error());
}

void DeliveryEngine::record_outcome(const store::ClaimedSend& item, const transport::SendResult& result,
                                    const std::string& message_id) {
  util::UnixTime now = clock_.now();
  switch (result.outcome) {
    case transport::Outcome::sent:
      ++sent_;
      // Waits for the commit: a worker never has more than one message sent but not recorded,
      // which bounds what a crash can make us send twice.
      wait_recorded(item, store_.writer().submit([item, message_id, code = result.code, now](const store::Database& db) -> Status {
        if (auto s = store::SendRepository(db).mark_sent(item.id, message_id, code, now); !s) return s;
        store::Event e;
        e.kind = "sent";
        e.contact_id = item.contact_id;
        e.campaign_id = item.campaign_id;
        e.send_id = item.id;
        e.at = now;
        return store::EventRepository(db).insert(e);
      }));
      return;
    case transport::Outcome::retry:
      if (item.attempts + 1 < settings_.max_attempts) {
        ++retried_;
        wait_recorded(item, store_.writer().submit([item, result, at = backoff(item.attempts + 1), now](const store::Database& db) {
          return store::SendRepository(db).mark_retry(item.id, at, result.code, result.reply, now);
        }));
        return;
      }
      [[fallthrough]];
    case transport::Outcome::failed:
      ++failed_;
      wait_recorded(item, store_.writer().submit([this, item, result, now](const store::Database& db) -> Status {
        std::string reply = result.enhanced.empty() ? result.reply : result.enhanced + " " + result.reply;
        if (auto s = store::SendRepository(db).mark_failed(item.id, result.code, reply, now); !s) return s;
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
      }));
      return;
  }
}

}  // namespace campaignd::delivery
