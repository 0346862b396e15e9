// The events table: everything that happened to a contact (sent, opened, purchase, ...).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct Event {
  std::int64_t id = 0;  // set when read back
  std::string kind;     // sent delivered deferred bounced opened clicked replied unsubscribed
                        // complained converted purchase ...
  std::optional<std::int64_t> contact_id;  // empty once the contact is forgotten
  std::optional<std::int64_t> campaign_id;
  std::optional<std::int64_t> send_id;
  util::UnixTime at = 0;
  std::optional<double> amount;
  bool machine = false;  // a prefetcher or scanner, kept out of human rates
  std::optional<std::string> provider_event_id;  // idempotency key; empty = always a new event
  nlohmann::json data = nlohmann::json::object();
};

// Statements are prepared once per connection (Database::cached). One thread at a time.
class EventRepository {
 public:
  explicit EventRepository(const Database& db) : db_(db) {}

  // Records the event; one whose provider_event_id is already stored is ignored (not an error),
  // which is what makes webhooks, retries and re-imports idempotent.
  Status insert(const Event& e);
  // Like insert; true when the event was new, false when its provider_event_id was known.
  Result<bool> insert_if_new(const Event& e);
  // A contact's events, oldest first.
  Result<std::vector<Event>> for_contact(std::int64_t contact_id);

 private:
  const Database& db_;
};

}  // namespace campaignd::store
