// The send queue at work: a dispatcher claims due sends from the store in batches and hands
// them to worker threads; each worker owns one transport session (so its SMTP connection is
// reused), re-checks suppression at send time, renders, sends, and records the outcome through
// the store's writer.
//
// A send is marked `sent` only after the transport reported success (a 250, or the maildir
// rename) and that mark is committed; a crash in between sends that message again on restart.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "daemon/campaigns/catalog.hpp"
#include "daemon/delivery/message_composer.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/transport/transport.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/rate.hpp"

namespace campaignd::delivery {

struct DeliverySettings {
  int concurrency = 4;
  double rate_per_second = 0;  // 0 = unlimited
  int batch_size = 500;
  int max_attempts = 8;
  int retry_base_seconds = 300;
  int retry_max_seconds = 4000;
};

struct DeliveryStats {
  std::int64_t sent = 0, failed = 0, retried = 0, skipped = 0;
  std::int64_t in_flight = 0;
  double send_rate = 0;  // messages per second over the last few seconds
};

class DeliveryEngine {
 public:
  // With `recorder`, a permanent refusal at send time is also recorded as a bounce (and a hard
  // one suppresses the address).
  DeliveryEngine(store::Store& store, campaigns::Catalog& catalog, transport::Transport& transport,
                 const MessageComposer& composer, const util::Clock& clock, DeliverySettings settings,
                 tracking::EventRecorder* recorder = nullptr);
  ~DeliveryEngine();

  void start();
  // Stops claiming, lets every worker finish the message it is sending, puts claimed but
  // unstarted sends back in the queue, and waits for their state to be written.
  void drain();
  // Wakes the dispatcher (new campaign started, file reloaded).
  void poke();
  // True when nothing is claimed, queued in memory, or being sent.
  bool idle() const;
  DeliveryStats stats() const;

 private:
  void dispatch_loop();
  void worker_loop(int index);
  void deliver(const store::ClaimedSend& item, transport::Session* session, const store::Database& reader,
               int worker);
  void record_outcome(const store::ClaimedSend& item, const transport::SendResult& result,
                      const std::string& message_id);
  void wait_recorded(const store::ClaimedSend& item, std::future<Status> done);
  void release(const std::vector<store::ClaimedSend>& items, util::UnixTime retry_at);
  util::UnixTime backoff(int attempts) const;

  store::Store& store_;
  campaigns::Catalog& catalog_;
  transport::Transport& transport_;
  const MessageComposer& composer_;
  const util::Clock& clock_;
  DeliverySettings settings_;
  tracking::EventRecorder* recorder_;
  util::RateLimiter rate_;

  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable room_ready_;
  std::condition_variable dispatcher_wake_;
  std::deque<store::ClaimedSend> work_;
  int busy_workers_ = 0;
  bool claiming_ = false;
  std::atomic<bool> stopping_{false};
  bool poked_ = false;

  std::thread dispatcher_;
  std::vector<std::thread> workers_;

  std::atomic<std::int64_t> sent_{0}, failed_{0}, retried_{0}, skipped_{0};
  // Sends completed per second over a short window, for /status.
  mutable std::mutex rate_mutex_;
  mutable std::deque<std::pair<std::int64_t, std::int64_t>> rate_window_;  // (ms, sent total)
};

}  // namespace campaignd::delivery
