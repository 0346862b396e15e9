// All SQL for contacts and contact_tags.
#include "daemon/store/contacts.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <functional>
#include <limits>

#include "daemon/util/email_address.hpp"

namespace campaignd::store {

namespace {

constexpr std::array<std::string_view, 5> kStatuses = {"subscribed", "pending", "unsubscribed", "bounced",
                                                       "complained"};

constexpr const char* kSelect =
    "SELECT id, email, first_name, last_name, status, attrs, created_at, updated_at FROM contacts ";

// Look up, then UPDATE or INSERT: an upsert with RETURNING materialises its result in a
// temporary b-tree on every call, which costs a third of a million-row import (so does an
// `x IN (a, b, c)` list: hence the ORs). ?2 = replace; ?6 = the new status when it opts out.
// PostgreSQL: attrs are jsonb, and a flat object merges with || as json_patch does (apart from
// json_patch's null-deletes-key, which imports never send: a null cell is an empty string).
constexpr const char* kUpdatePostgresql =
    "UPDATE contacts SET "
    "  first_name = CASE WHEN ?2 OR ?3 <> '' THEN ?3 ELSE first_name END, "
    "  last_name = CASE WHEN ?2 OR ?4 <> '' THEN ?4 ELSE last_name END, "
    "  attrs = CASE WHEN ?2 THEN ?5::jsonb ELSE attrs || ?5::jsonb END, "
    "  status = CASE WHEN ?6::text IS NOT NULL AND (status = 'subscribed' OR status = 'pending') THEN ?6 ELSE status END, "
    "  updated_at = ?7 "
    "WHERE id = ?1";
constexpr const char* kUpdate =
    "UPDATE contacts SET "
    "  first_name = CASE WHEN ?2 OR ?3 <> '' THEN ?3 ELSE first_name END, "
    "  last_name = CASE WHEN ?2 OR ?4 <> '' THEN ?4 ELSE last_name END, "
    "  attrs = CASE WHEN ?2 THEN ?5 ELSE json_patch(attrs, ?5) END, "
    "  status = CASE WHEN ?6 IS NOT NULL AND (status = 'subscribed' OR status = 'pending') THEN ?6 ELSE status END, "
    "  updated_at = ?7 "
    "WHERE id = ?1";
constexpr const char* kInsert =
    "INSERT INTO contacts (email, first_name, last_name, status, attrs, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(email) DO NOTHING RETURNING id";
// ContactBulkLoader's: the table has no email index to conflict on, and the id is known.
constexpr const char* kBulkInsert =
    "INSERT INTO contacts (id, email, first_name, last_name, status, attrs, created_at, updated_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr const char* kAddTag = "INSERT INTO contact_tags (contact_id, tag) VALUES (?, ?) ON CONFLICT DO NOTHING";

// What upsert writes of `c`, checked: the normalised address and attrs as JSON text.
struct UpsertValues {
  std::string email;
  std::string attrs;
};

// Everything but attrs; `attrs_json` is the caller's.
Result<std::string> checked_email(const Contact& c) {
  std::string email = util::normalize_address(c.email);
  if (email.empty()) return fail("contact without an email address");
  if (!is_contact_status(c.status)) return fail("unknown contact status '" + c.status + "'");
  return email;
}

Result<UpsertValues> upsert_values(const Contact& c) {
  auto email = checked_email(c);
  if (!email) return std::unexpected(email.error());
  if (!c.attrs.is_object() && !c.attrs.is_null()) return fail("contact attrs must be a JSON object");
  return UpsertValues{std::move(*email), attrs_text(c.attrs)};
}

// The update half of an upsert, for the contact `id` that holds c's address.
Status update_existing(const Database& db, std::int64_t id, const Contact& c, const std::string& attrs,
                       UpsertMode mode) {
  auto stmt = db.cached(db.sql(kUpdate, kUpdatePostgresql));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id).bind(2, mode == UpsertMode::replace ? 1 : 0).bind(3, c.first_name).bind(4, c.last_name);
  (*stmt)->bind(5, attrs).bind(7, c.updated_at);
  if (is_opted_out_status(c.status))
    (*stmt)->bind(6, c.status);
  else
    (*stmt)->bind(6, nullptr);
  return (*stmt)->run();
}

// A row of kSelect (attrs left as parsed: callers check it is an object).
Contact contact_from(const Statement& row) {
  Contact c;
  c.id = row.column_int(0);
  c.email = row.column_text(1);
  c.first_name = row.column_text(2);
  c.last_name = row.column_text(3);
  c.status = row.column_text(4);
  c.attrs = nlohmann::json::parse(row.column_text(5), nullptr, false);
  c.created_at = row.column_int(6);
  c.updated_at = row.column_int(7);
  return c;
}

}  // namespace

std::string attrs_text(const nlohmann::json& attrs) {
  return attrs.is_null() ? "{}" : attrs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_contact_status(std::string_view status) {
  for (auto s : kStatuses)
    if (s == status) return true;
  return false;
}

bool is_opted_out_status(std::string_view status) {
  return status == "unsubscribed" || status == "bounced" || status == "complained";
}

Result<std::optional<Contact>> ContactRepository::read_one(Statement& stmt) {
  auto row = stmt.step();
  if (!row) {
    stmt.reset();
    return std::unexpected(row.error());
  }
  if (!*row) {
    stmt.reset();
    return std::optional<Contact>();
  }
  Contact c = contact_from(stmt);
  stmt.reset();
  if (!c.attrs.is_object()) return fail("contact " + std::to_string(c.id) + ": attrs is not a JSON object");

  auto tags = db_.cached("SELECT tag FROM contact_tags WHERE contact_id = ? ORDER BY tag");
  if (!tags) return std::unexpected(tags.error());
  (*tags)->bind(1, c.id);
  while (true) {
    auto t = (*tags)->step();
    if (!t) {
      (*tags)->reset();
      return std::unexpected(t.error());
    }
    if (!*t) break;
    c.tags.push_back((*tags)->column_text(0));
  }
  (*tags)->reset();
  return std::optional<Contact>(std::move(c));
}

Result<std::optional<Contact>> ContactRepository::find_by_id(std::int64_t id) {
  auto stmt = db_.cached(std::string(kSelect) + "WHERE id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id);
  return read_one(**stmt);
}

Result<std::optional<Contact>> ContactRepository::find_by_email(std::string_view email) {
  auto stmt = db_.cached(std::string(kSelect) + "WHERE email = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, util::normalize_address(email));
  return read_one(**stmt);
}

Result<std::optional<std::int64_t>> ContactRepository::id_for_email(std::string_view email) {
  auto stmt = db_.cached("SELECT id FROM contacts WHERE email = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, util::normalize_address(email));
  auto row = (*stmt)->step();
  std::optional<std::int64_t> id;
  if (row && *row) id = (*stmt)->column_int(0);
  (*stmt)->reset();
  if (!row) return std::unexpected(row.error());
  return id;
}

Result<std::optional<std::string>> ContactRepository::email_of(std::int64_t id) {
  auto stmt = db_.cached("SELECT email FROM contacts WHERE id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id);
  auto row = (*stmt)->step();
  std::optional<std::string> email;
  if (row && *row) email = (*stmt)->column_text(0);
  (*stmt)->reset();
  if (!row) return std::unexpected(row.error());
  return email;
}

Result<std::vector<Contact>> ContactRepository::find_many(const std::vector<std::int64_t>& ids) {
  std::vector<Contact> out;
  if (ids.empty()) return out;
  // The ids travel as one JSON array: one statement, one read transaction, whatever the count.
  std::string list = "[";
  for (auto id : ids) {
    if (list.size() > 1) list += ',';
    list += std::to_string(id);
  }
  list += ']';
  const std::string in_list = db_.is_postgresql() ? "IN (SELECT value::bigint FROM jsonb_array_elements_text(?1::jsonb))"
                                                  : "IN (SELECT value FROM json_each(?1))";
  auto stmt = db_.cached(std::string(kSelect) + "WHERE id " + in_list + " ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  out.reserve(ids.size());
  auto s = (*stmt)->bind(1, list).each([&](const Statement& row) { out.push_back(contact_from(row)); });
  if (!s) return std::unexpected(s.error());
  for (const auto& c : out)
    if (!c.attrs.is_object()) return fail("contact " + std::to_string(c.id) + ": attrs is not a JSON object");
  auto tags = db_.cached("SELECT contact_id, tag FROM contact_tags WHERE contact_id " + in_list +
                         " ORDER BY contact_id, tag");
  if (!tags) return std::unexpected(tags.error());
  size_t at = 0;  // both lists are ordered by contact id
  s = (*tags)->bind(1, list).each([&](const Statement& row) {
    auto id = row.column_int(0);
    while (at < out.size() && out[at].id < id) ++at;
    if (at < out.size() && out[at].id == id) out[at].tags.push_back(row.column_text(1));
  });
  if (!s) return std::unexpected(s.error());
  return out;
}

Result<std::optional<ContactRepository::Mailability>> ContactRepository::mailability(
    std::int64_t id, const std::optional<std::string>& topic) {
  auto stmt = db_.cached(
      "SELECT c.status, c.email, "
      "  EXISTS (SELECT 1 FROM suppressions s WHERE s.email_hash = suppression_key(c.email)), "
      "  CAST(?2 AS TEXT) IS NOT NULL AND EXISTS (SELECT 1 FROM contact_topics t WHERE t.contact_id = c.id AND t.topic = ?2 "
      "                             AND t.subscribed = 0) "
      "FROM contacts c WHERE c.id = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id).bind(2, topic);
  auto row = (*stmt)->step();
  if (!row) {
    (*stmt)->reset();
    return std::unexpected(row.error());
  }
  std::optional<Mailability> out;
  if (*row) {
    out.emplace();
    out->status = (*stmt)->column_text(0);
    out->email = (*stmt)->column_text(1);
    out->suppressed = (*stmt)->column_int(2) != 0;
    out->left_topic = (*stmt)->column_int(3) != 0;
  }
  (*stmt)->reset();
  return out;
}

Status ContactRepository::upsert(const Contact& c, UpsertMode mode) {
  auto id = upsert_returning_id(c, mode);
  if (!id) return std::unexpected(id.error());
  return {};
}

Status ContactRepository::upsert(const Contact& c, UpsertMode mode, const std::string& attrs_json) {
  auto email = checked_email(c);
  if (!email) return std::unexpected(email.error());
  auto id = upsert_values_given(c, mode, *email, attrs_json);
  if (!id) return std::unexpected(id.error());
  return {};
}

Result<std::int64_t> ContactRepository::upsert_returning_id(const Contact& c, UpsertMode mode) {
  auto values = upsert_values(c);
  if (!values) return std::unexpected(values.error());
  return upsert_values_given(c, mode, values->email, values->attrs);
}

Result<std::int64_t> ContactRepository::upsert_values_given(const Contact& c, UpsertMode mode,
                                                            const std::string& email, const std::string& attrs) {
  // The new row's id, or 0 when the address is taken.
  auto insert = [&]() -> Result<std::int64_t> {
    auto stmt = db_.cached(kInsert);
    if (!stmt) return std::unexpected(stmt.error());
    (*stmt)->bind(1, email).bind(2, c.first_name).bind(3, c.last_name).bind(4, c.status).bind(5, attrs);
    (*stmt)->bind(6, c.created_at != 0 ? c.created_at : c.updated_at).bind(7, c.updated_at);
    auto inserted = (*stmt)->single_int();
    if (!inserted) return std::unexpected(inserted.error());
    return inserted->value_or(0);
  };
  std::int64_t id = 0;
  // The INSERT comes first: it is the lookup as well (ON CONFLICT DO NOTHING changes nothing
  // when the address is taken), which saves an index probe for every new contact of an import.
  {
    auto inserted = insert();
    if (!inserted) return std::unexpected(inserted.error());
    id = *inserted;
  }
  // Two rounds at most: a concurrent writer may insert the address between lookup and insert.
  for (int round = 0; round < 2 && id == 0; ++round) {
    auto existing = id_for_email(email);
    if (!existing) return std::unexpected(existing.error());
    if (*existing) {
      if (auto s = update_existing(db_, **existing, c, attrs, mode); !s) return std::unexpected(s.error());
      id = **existing;
    } else {
      auto inserted = insert();
      if (!inserted) return std::unexpected(inserted.error());
      id = *inserted;
    }
  }
  if (id == 0) return fail("cannot insert or update contact " + email);

  if (mode == UpsertMode::replace) {
    auto del = db_.cached("DELETE FROM contact_tags WHERE contact_id = ?");
    if (!del) return std::unexpected(del.error());
    (*del)->bind(1, id);
    if (auto s = (*del)->run(); !s) return std::unexpected(s.error());
  }
  for (const auto& tag : c.tags)
    if (auto s = add_tag(id, tag); !s) return std::unexpected(s.error());
  return id;
}

Status ContactRepository::add_tag(std::int64_t id, std::string_view tag) {
  if (tag.empty()) return {};
  auto stmt = db_.cached(kAddTag);
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id).bind(2, tag);
  return (*stmt)->run();
}

Status ContactRepository::set_status(std::int64_t id, std::string_view status, std::optional<util::UnixTime> now) {
  if (!is_contact_status(status)) return fail("unknown contact status '" + std::string(status) + "'");
  auto stmt = db_.cached(db_.sql(
      "UPDATE contacts SET status = ?2, updated_at = COALESCE(?3, CAST(strftime('%s', 'now') AS INTEGER)) WHERE id = ?1",
      "UPDATE contacts SET status = ?2, updated_at = COALESCE(?3, CAST(extract(epoch FROM now()) AS BIGINT)) "
      "WHERE id = ?1"));
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id).bind(2, status).bind(3, now);
  return (*stmt)->run();
}

Status ContactRepository::erase(std::int64_t id) {
  auto stmt = db_.cached("DELETE FROM contacts WHERE id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id);
  return (*stmt)->run();
}

Result<std::int64_t> ContactRepository::count() {
  auto stmt = db_.cached("SELECT count(*) FROM contacts");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = (*stmt)->step();
  std::int64_t n = (row && *row) ? (*stmt)->column_int(0) : 0;
  (*stmt)->reset();
  if (!row) return std::unexpected(row.error());
  return n;
}

// ---- bulk loading ----------------------------------------------------------------------------

namespace {

// A PRAGMA's answer ("" when it gives none).
Result<std::string> pragma_text(const Database& db, const std::string& sql) {
  auto stmt = db.prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  auto text = stmt->single_text();
  if (!text) return std::unexpected(text.error());
  return text->value_or("");
}

// The bulk load's condition, for it and for the journal that serves it: SQLite, no contact yet.
Result<bool> bulk_load_applies(const Database& db) {
  if (db.is_postgresql()) return false;
  auto any = db.prepare("SELECT EXISTS (SELECT 1 FROM contacts)");
  if (!any) return std::unexpected(any.error());
  auto taken = any->single_int();
  if (!taken) return std::unexpected(taken.error());
  return taken->value_or(0) == 0;
}

}  // namespace

BulkLoadJournal BulkLoadJournal::begin(const Database& db) {
  auto applies = bulk_load_applies(db);
  if (!applies || !*applies) return BulkLoadJournal(nullptr);
  // Another connection makes the switch fail at once rather than after the busy timeout.
  auto timeout = pragma_text(db, "PRAGMA busy_timeout");
  if (!timeout) return BulkLoadJournal(nullptr);
  (void)db.exec("PRAGMA busy_timeout = 0");
  auto mode = pragma_text(db, "PRAGMA journal_mode = DELETE");
  (void)db.exec("PRAGMA busy_timeout = " + *timeout);
  if (!mode || *mode != "delete") return BulkLoadJournal(nullptr);
  if (auto s = db.exec("PRAGMA synchronous = FULL"); !s) {
    (void)db.exec("PRAGMA journal_mode = WAL");
    return BulkLoadJournal(nullptr);
  }
  return BulkLoadJournal(&db);
}

BulkLoadJournal::~BulkLoadJournal() {
  if (!db_) return;
  auto mode = pragma_text(*db_, "PRAGMA journal_mode = WAL");
  if (!mode || *mode != "wal")
    spdlog::warn("store: the database stays in rollback-journal mode until the daemon opens it: {}",
                 mode ? *mode : mode.error());
  (void)db_->exec("PRAGMA synchronous = NORMAL");
}

Result<std::optional<ContactBulkLoader>> ContactBulkLoader::start(const Database& db) {
  std::optional<ContactBulkLoader> loader;
  auto applies = bulk_load_applies(db);
  if (!applies) return std::unexpected(applies.error());
  if (!*applies) return loader;

  loader.emplace(ContactBulkLoader(db));
  // Every index of contacts that can be dropped (a table's own PRIMARY KEY or UNIQUE has no
  // SQL), read from the schema so that one a later migration adds is rebuilt too.
  // contact_tags' indexes stay: its rows come in contact order, and keeping its by-tag index
  // up as they come cost half of what building it at the end did.
  auto list = db.prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL AND tbl_name = 'contacts' "
      "ORDER BY name");
  if (!list) return std::unexpected(list.error());
  std::vector<std::string> names;
  auto listed = list->each([&](const Statement& row) {
    names.push_back(row.column_text(0));
    loader->indexes_.push_back(row.column_text(1));
  });
  if (!listed) return std::unexpected(listed.error());
  for (const auto& name : names) {
    std::string quoted;
    for (char ch : name) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    if (auto s = db.exec("DROP INDEX \"" + quoted + "\""); !s) return std::unexpected(s.error());
  }

  // Appends need no more than SQLite's default page cache, and the sorter that builds the
  // indexes sorts in runs of the cache's size: a million addresses sort three times faster in
  // runs of 2 MB than in one of the import's 64 MB. (temp_store = MEMORY would make it one
  // run whatever the cache.)
  auto cache = db.prepare("PRAGMA cache_size");
  if (!cache) return std::unexpected(cache.error());
  auto size = cache->single_int();
  if (!size) return std::unexpected(size.error());
  loader->cache_size_ = size->value_or(-2000);
  if (auto s = db.exec("PRAGMA cache_size = -2000"); !s) return std::unexpected(s.error());

  // Held, not looked up by their text on every row (a tenth of the per-row cost).
  auto insert = db.cached(kBulkInsert);
  if (!insert) return std::unexpected(insert.error());
  auto tag = db.cached(kAddTag);
  if (!tag) return std::unexpected(tag.error());
  loader->insert_ = *insert;
  loader->tag_ = *tag;
  return loader;
}

Result<std::int64_t> ContactBulkLoader::added(const std::string& email, std::uint32_t hash) {
  if (slots_.empty()) return 0;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask; slots_[i].id != 0; i = (i + 1) & mask) {
    if (slots_[i].hash != hash) continue;
    auto stored = ContactRepository(*db_).email_of(slots_[i].id);
    if (!stored) return std::unexpected(stored.error());
    if (*stored == email) return slots_[i].id;
  }
  return 0;
}

void ContactBulkLoader::remember(std::uint32_t hash, std::uint32_t id) {
  if ((used_ + 1) * 2 > slots_.size()) {
    std::vector<Slot> old(std::max<std::size_t>(1024, slots_.size() * 2));
    old.swap(slots_);
    used_ = 0;
    for (const Slot& s : old)
      if (s.id != 0) remember(s.hash, s.id);
  }
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = hash & mask;
  while (slots_[i].id != 0) i = (i + 1) & mask;
  slots_[i] = Slot{hash, id};
  ++used_;
}

Result<std::int64_t> ContactBulkLoader::add(const Contact& c) {
  auto values = upsert_values(c);
  if (!values) return std::unexpected(values.error());
  return add_checked(c, values->email, values->attrs);
}

Result<std::int64_t> ContactBulkLoader::add(const Contact& c, const std::string& attrs_json) {
  auto email = checked_email(c);
  if (!email) return std::unexpected(email.error());
  return add_checked(c, *email, attrs_json);
}

Result<std::int64_t> ContactBulkLoader::add_checked(const Contact& c, const std::string& email,
                                                    const std::string& attrs) {
  const std::uint64_t full = std::hash<std::string>{}(email);
  const auto hash = static_cast<std::uint32_t>(full ^ (full >> 32));
  auto id = added(email, hash);
  if (!id) return std::unexpected(id.error());
  if (*id != 0) {
    if (auto s = update_existing(*db_, *id, c, attrs, UpsertMode::merge); !s) return std::unexpected(s.error());
  } else {
    if (next_id_ > std::numeric_limits<std::uint32_t>::max()) return fail("too many contacts for one import");
    // upsert's ids: an empty table numbers its rows from 1 in the order they are inserted.
    id = next_id_;
    insert_->bind(1, *id).bind(2, email).bind(3, c.first_name).bind(4, c.last_name).bind(5, c.status);
    insert_->bind(6, attrs).bind(7, c.created_at != 0 ? c.created_at : c.updated_at).bind(8, c.updated_at);
    if (auto s = insert_->run(); !s) return std::unexpected(s.error());
    ++next_id_;
    remember(hash, static_cast<std::uint32_t>(*id));
  }
  for (const auto& tag : c.tags) {
    if (tag.empty()) continue;
    tag_->bind(1, *id).bind(2, tag);
    if (auto s = tag_->run(); !s) return std::unexpected(s.error());
  }
  return *id;
}

Status ContactBulkLoader::finish() {
  for (const auto& sql : indexes_)
    if (auto s = db_->exec(sql); !s) return s;
  indexes_.clear();
  return db_->exec("PRAGMA cache_size = " + std::to_string(cache_size_));
}

}  // namespace campaignd::store
