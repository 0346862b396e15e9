// Every response a recipient or a provider reports goes through here: it is tied to its send
// (by send id, by our Message-ID, or by recipient address), written once (idempotent by
// provider event id), and its consequences applied in the same transaction: a hard bounce,
// a complaint or an unsubscribe suppresses the address; soft bounces do after a limit.
// When record() returns success, the event is durable.
//
// Thread-safe: all writes go through the store's WriteQueue (group commit).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

struct ResponseEvent {
  std::string kind;                          // delivered deferred bounced opened clicked replied
                                             // unsubscribed complained converted
  std::optional<std::string> bounce_type;    // "hard" | "soft", for bounced
  std::optional<std::int64_t> send_id;       // when known (our tokens carry it)
  std::optional<std::string> message_id;     // our Message-ID, with or without <>
  std::optional<std::string> recipient;      // the address, when nothing better identifies the send
  util::UnixTime at = 0;                     // 0 = now
  bool machine = false;                      // prefetcher or scanner: kept out of human rates
  std::optional<std::string> provider_event_id;  // idempotency key ("sendgrid:<sg_event_id>")
  std::optional<std::string> reason;         // diagnostic text (SMTP reply, complaint type)
  std::optional<double> amount;              // converted: revenue
  nlohmann::json data = nlohmann::json::object();  // url, user agent, snippet, provider extras
};

struct RecordOutcome {
  bool duplicate = false;  // the provider event id was seen before: nothing written
  bool matched = false;    // tied to a send or a contact of ours
  std::optional<std::int64_t> contact_id;
  std::optional<std::int64_t> campaign_id;
  std::optional<std::int64_t> send_id;
};

struct RecorderSettings {
  int soft_bounce_limit = 3;  // consecutive soft bounces before the address is suppressed
};

class EventRecorder {
 public:
  EventRecorder(store::Store& store, const util::Clock& clock, RecorderSettings settings = {})
      : store_(store), clock_(clock), settings_(settings) {}

  Result<RecordOutcome> record(const ResponseEvent& event);
  // Several events in one transaction (one webhook post), all durable when it returns.
  Result<std::vector<RecordOutcome>> record_all(const std::vector<ResponseEvent>& events);

  // The same, inside a transaction the caller already holds on the writer connection. `send`:
  // the event's send when the caller has just read it on `db` (it then wins over the event's
  // send_id, message_id and recipient, and is not looked up again).
  Result<RecordOutcome> record_in(const store::Database& db, const ResponseEvent& event,
                                  const store::SendRef* send = nullptr);

 private:
  store::Store& store_;
  const util::Clock& clock_;
  RecorderSettings settings_;
};

}  // namespace campaignd::tracking
