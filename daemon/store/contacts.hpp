// The contacts and contact_tags tables: the people campaigns are sent to.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
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
// Contact::attrs as upsert writes them: compact JSON, invalid UTF-8 replaced by U+FFFD.
std::string attrs_text(const nlohmann::json& attrs);
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
  // Like upsert, with c.attrs ignored for `attrs_json`, a JSON object as attrs_text writes it:
  // for imports, which build it on another thread.
  Status upsert(const Contact& c, UpsertMode mode, const std::string& attrs_json);
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
  Result<std::int64_t> upsert_values_given(const Contact& c, UpsertMode mode, const std::string& email,
                                           const std::string& attrs);

  const Database& db_;
};

// While an import has an SQLite database to itself, its bulk load (one transaction that mostly
// appends pages) goes through a rollback journal instead of the WAL: appended pages are written
// into the database file once, where the WAL writes them twice (into the log, then the
// checkpoint's copy), a sixth of a million-row import. SQLite leaves WAL only when no other
// connection has the database open, so beside a running daemon nothing changes; a daemon
// starting during the load waits for it (up to its busy timeout). synchronous = FULL meanwhile:
// a rollback journal under NORMAL can lose the database to a power cut. The destructor goes
// back to WAL and NORMAL; should that fail, every connection the daemon opens sets WAL itself.
class BulkLoadJournal {
 public:
  // Call outside a transaction, before the one that loads. Inactive on PostgreSQL, when
  // contacts holds a row (no bulk load then) or when another connection has the database.
  static BulkLoadJournal begin(const Database& db);
  BulkLoadJournal(BulkLoadJournal&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  BulkLoadJournal& operator=(BulkLoadJournal&&) = delete;
  ~BulkLoadJournal();
  bool active() const { return db_ != nullptr; }

 private:
  explicit BulkLoadJournal(const Database* db) : db_(db) {}
  const Database* db_;
};

// Writes contacts into an EMPTY contacts table on SQLite several times faster than upsert (an
// import): inside the caller's write transaction it drops the indexes of contacts (the unique
// email first), appends the rows in the order given, and finish() creates the indexes again,
// each by one sort, before the caller commits. SQLite's DDL is transactional, so other
// connections never see the tables without their indexes, and a rollback (any failure before
// the commit) brings them back. A repeated address is merged into its first row as
// upsert(UpsertMode::merge) would, and the ids are the ones upsert would have given. Until
// finish(), nothing else may write contacts through this connection, and a lookup by email
// scans the table. Index builds are fastest with `PRAGMA temp_store = FILE` on the connection,
// which SQLite allows to change only outside a transaction: see start().
class ContactBulkLoader {
 public:
  // Call inside a write transaction (BEGIN IMMEDIATE, so no other writer can fill the table
  // meanwhile). Nothing when the bulk load does not apply: PostgreSQL, or a contact exists.
  static Result<std::optional<ContactBulkLoader>> start(const Database& db);

  // As upsert_returning_id(c, UpsertMode::merge): validates `c` and gives the contact's id.
  Result<std::int64_t> add(const Contact& c);
  // As add(c), with c.attrs ignored for `attrs_json` (see ContactRepository::upsert).
  Result<std::int64_t> add(const Contact& c, const std::string& attrs_json);
  // Creates the dropped indexes; the caller commits after it.
  Status finish();

 private:
  explicit ContactBulkLoader(const Database& db) : db_(&db) {}
  Result<std::int64_t> add_checked(const Contact& c, const std::string& email, const std::string& attrs);
  // The id of the contact added with `email` (whose hash is `hash`), or 0.
  Result<std::int64_t> added(const std::string& email, std::uint32_t hash);
  void remember(std::uint32_t hash, std::uint32_t id);

  const Database* db_;
  Statement* insert_ = nullptr;  // cached by db_, so valid while it lives
  Statement* tag_ = nullptr;
  std::vector<std::string> indexes_;  // the CREATE INDEX statements to run again
  std::int64_t cache_size_ = 0;       // the connection's, given back by finish()
  // Every contact added, by a 32-bit hash of its address, in an open-addressing table at most
  // half full: 8 to 16 bytes a contact where a map of the addresses takes about a hundred, and
  // one cache miss a row. Equal hashes are told apart by reading the address back.
  struct Slot {
    std::uint32_t hash = 0;
    std::uint32_t id = 0;  // 0: empty
  };
  std::vector<Slot> slots_;
  std::size_t used_ = 0;
  std::int64_t next_id_ = 1;
};

}  // namespace campaignd::store
