// The contacts and contact_tags tables: the people campaigns are sent to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct Contact {
  std::int64_t id = 0;
  std::string email;  // normalised (trimmed, lower-case) once stored
  std::string first_name, last_name;
  std::string status = "subscribed";  // subscribed | pending | unsubscribed | bounced | complained
  nlohmann::json attrs = nlohmann::json::object();  // numbers as JSON numbers, the rest strings
  std::vector<std::string> tags;                     // sorted when read back
  util::UnixTime created_at = 0, updated_at = 0;
};

bool is_contact_status(std::string_view status);
// unsubscribed, bounced and complained: nobody in these states is mailed, and no import or
// upsert moves them back.
bool is_opted_out_status(std::string_view status);

// How upsert treats a contact that already exists.
enum class UpsertMode {
  // For imports: non-empty names overwrite, attrs are merged key by key (RFC 7396 merge patch:
  // new values win, keys not given keep their value, a JSON null removes a key), tags are added
  // to the ones already held.
  merge,
  // For a form that edits the whole record: names, attrs and tags become exactly the given ones.
  replace,
};

// Statements are prepared once per connection (Database::cached), so a repository may be a
// short-lived object inside a loop. Used by one thread at a time, like its Database.
class ContactRepository {
 public:
  explicit ContactRepository(const Database& db) : db_(db) {}

  Result<std::optional<Contact>> find_by_id(std::int64_t id);
  // `email` is normalised before the lookup.
  Result<std::optional<Contact>> find_by_email(std::string_view email);
  // The id alone, without reading the row and its tags: for per-row lookups in imports.
  Result<std::optional<std::int64_t>> id_for_email(std::string_view email);
  // The address alone: how the sender learns a recipient's destination domain.
  Result<std::optional<std::string>> email_of(std::int64_t id);
  // Several contacts at once, as find_by_id reads them (tags sorted), in one read of the
  // database: how the sender learns a claimed batch's recipients. Ids not found are left out;
  // the order is by id.
  Result<std::vector<Contact>> find_many(const std::vector<std::int64_t>& ids);

  // What decides at send time whether a contact may be mailed, read in one statement: status,
  // address, whether the address is suppressed and, with `topic`, whether the contact left it.
  struct Mailability {
    std::string status;
    std::string email;
    bool suppressed = false;
    bool left_topic = false;
  };
  // Nothing when the contact no longer exists.
  Result<std::optional<Mailability>> mailability(std::int64_t id, const std::optional<std::string>& topic);

  // Inserts, or updates the contact with the same normalised email, as `mode` says. The write
  // time is `c.updated_at` (`c.created_at`, when set, for a new row). Status never moves back
  // from opted-out (see is_opted_out_status) nor from pending to subscribed: an existing
  // contact changes status only from subscribed or pending to an opted-out state. A new contact
  // takes `c.status`. The caller validates the address; an invalid status is an error.
  Status upsert(const Contact& c, UpsertMode mode);
  // Like upsert, and gives the contact's id.
  Result<std::int64_t> upsert_returning_id(const Contact& c, UpsertMode mode);

  // Sets the status unconditionally (unsubscribe links, bounces, confirmed opt-ins). `now`
  // defaults to the database's clock. A missing contact is not an error: nothing changes.
  Status set_status(std::int64_t id, std::string_view status, std::optional<util::UnixTime> now = std::nullopt);
  Status add_tag(std::int64_t id, std::string_view tag);
  // Deletes the contact and, by cascade, its tags and events.
  Status erase(std::int64_t id);
  Result<std::int64_t> count();

 private:
  Result<std::optional<Contact>> read_one(Statement& stmt);

  const Database& db_;
};

}  // namespace campaignd::store
