#include "daemon/store/migrations.hpp"

#include <array>
#include <string>

namespace campaignd::store {

namespace {

// Never edit a migration that has shipped: add the next one.
// Each entry is one schema version; the array's length is the latest version.
constexpr const char* kMigrations[] = {
    // 1: contacts, tags, campaigns, sends, events, suppressions.
    R"SQL(
CREATE TABLE contacts (
  id          INTEGER PRIMARY KEY,
  email       TEXT NOT NULL UNIQUE,            -- normalised (trimmed, lower-case)
  first_name  TEXT NOT NULL DEFAULT '',
  last_name   TEXT NOT NULL DEFAULT '',
  status      TEXT NOT NULL DEFAULT 'subscribed'
              CHECK (status IN ('subscribed','pending','unsubscribed','bounced','complained')),
  attrs       TEXT NOT NULL DEFAULT '{}',      -- JSON object; numbers stored as JSON numbers
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE TABLE contact_tags (
  contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  tag         TEXT NOT NULL,
  PRIMARY KEY (contact_id, tag)
) WITHOUT ROWID;
CREATE INDEX contact_tags_by_tag ON contact_tags(tag, contact_id);

CREATE TABLE campaigns (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL UNIQUE,
  file         TEXT NOT NULL DEFAULT '',
  definition   TEXT NOT NULL DEFAULT '{}',     -- JSON of the parsed file, as last loaded
  state        TEXT NOT NULL DEFAULT 'scheduled'
               CHECK (state IN ('scheduled','running','paused','done','failed')),
  schedule_at  INTEGER NOT NULL,
  recipients   INTEGER NOT NULL DEFAULT 0,
  started_at   INTEGER,
  finished_at  INTEGER,
  error        TEXT,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);

CREATE TABLE sends (
  id               INTEGER PRIMARY KEY,
  campaign_id      INTEGER NOT NULL REFERENCES campaigns(id),
  contact_id       INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
  state            TEXT NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued','sending','sent','failed','skipped')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL DEFAULT 0,
  message_id       TEXT,
  last_code        INTEGER,
  last_error       TEXT,
  sent_at          INTEGER,
  updated_at       INTEGER NOT NULL DEFAULT 0,
  UNIQUE (campaign_id, contact_id)
);
CREATE INDEX sends_due ON sends(next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX sends_by_state ON sends(campaign_id, state);
CREATE INDEX sends_by_contact ON sends(contact_id);
CREATE UNIQUE INDEX sends_by_message_id ON sends(message_id) WHERE message_id IS NOT NULL;

CREATE TABLE events (
  id                 INTEGER PRIMARY KEY,
  kind               TEXT NOT NULL,           -- sent delivered deferred bounced opened clicked replied
                                              -- unsubscribed complained converted purchase ...
  contact_id         INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
  campaign_id        INTEGER REFERENCES campaigns(id),
  send_id            INTEGER REFERENCES sends(id),
  at                 INTEGER NOT NULL,
  amount             REAL,
  machine            INTEGER NOT NULL DEFAULT 0,   -- 1 = prefetch/scanner, kept out of human rates
  provider_event_id  TEXT UNIQUE,                  -- idempotency key
  data               TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_by_contact ON events(contact_id, kind, at);
CREATE INDEX events_by_campaign ON events(campaign_id, kind);

CREATE TABLE suppressions (
  email_hash  TEXT PRIMARY KEY,   -- sha256 of the normalised address: survives `forget`
  email       TEXT,               -- NULL once forgotten
  reason      TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
)SQL",
    // 2: response tracking and consent: topic opt-outs, webhook replay memory, soft-bounce
    // counts, auto-reply memory, and lookups by recipient for events.
    R"SQL(
CREATE TABLE contact_topics (
  contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  topic       TEXT NOT NULL,
  subscribed  INTEGER NOT NULL,            -- 0 = left this topic
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (contact_id, topic)
) WITHOUT ROWID;

CREATE TABLE webhook_nonces (              -- signatures seen, so a replay inside the window is refused
  provider  TEXT NOT NULL,
  nonce     TEXT NOT NULL,
  seen_at   INTEGER NOT NULL,
  PRIMARY KEY (provider, nonce)
) WITHOUT ROWID;

CREATE TABLE autoreplies (                 -- RFC 3834: at most one automatic reply per sender per period
  sender      TEXT NOT NULL,
  automation  TEXT NOT NULL,
  replied_at  INTEGER NOT NULL,
  PRIMARY KEY (sender, automation)
) WITHOUT ROWID;

ALTER TABLE contacts ADD COLUMN soft_bounces INTEGER NOT NULL DEFAULT 0;
CREATE INDEX events_by_send ON events(send_id, kind);
)SQL",
    // 3: automations. A send may now repeat for one campaign and contact, once per `occurrence`
    // (0 for campaigns, the enrollment id for automation steps), and carries a `context` (e.g. the
    // message an autoresponse answers). Enrollments hold each contact's place in an automation.
    R"SQL(
CREATE TABLE sends_v3 (
  id               INTEGER PRIMARY KEY,
  campaign_id      INTEGER NOT NULL REFERENCES campaigns(id),
  contact_id       INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
  occurrence       INTEGER NOT NULL DEFAULT 0,
  state            TEXT NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued','sending','sent','failed','skipped')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER NOT NULL DEFAULT 0,
  message_id       TEXT,
  last_code        INTEGER,
  last_error       TEXT,
  sent_at          INTEGER,
  updated_at       INTEGER NOT NULL DEFAULT 0,
  context          TEXT,
  UNIQUE (campaign_id, contact_id, occurrence)
);
INSERT INTO sends_v3 (id, campaign_id, contact_id, occurrence, state, attempts, next_attempt_at, message_id,
                      last_code, last_error, sent_at, updated_at)
  SELECT id, campaign_id, contact_id, 0, state, attempts, next_attempt_at, message_id, last_code, last_error,
         sent_at, updated_at FROM sends;
DROP TABLE sends;
ALTER TABLE sends_v3 RENAME TO sends;
CREATE INDEX sends_due ON sends(next_attempt_at, id) WHERE state = 'queued';
CREATE INDEX sends_by_state ON sends(campaign_id, state);
CREATE INDEX sends_by_contact ON sends(contact_id);
CREATE UNIQUE INDEX sends_by_message_id ON sends(message_id) WHERE message_id IS NOT NULL;

CREATE TABLE enrollments (
  id             INTEGER PRIMARY KEY,
  automation     TEXT NOT NULL,              -- the automation's name
  contact_id     INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  state          TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active','completed','exited')),
  step           INTEGER NOT NULL DEFAULT 0, -- the next step to send (0-based)
  due_at         INTEGER NOT NULL,           -- when that step is due
  entered_at     INTEGER NOT NULL,
  finished_at    INTEGER,
  exit_reason    TEXT,
  trigger_event  INTEGER,                    -- events.id that enrolled the contact
  context        TEXT NOT NULL DEFAULT '{}'  -- what the steps may need (the message replied to)
);
CREATE UNIQUE INDEX enrollments_one_active ON enrollments(automation, contact_id) WHERE state = 'active';
CREATE INDEX enrollments_due ON enrollments(due_at) WHERE state = 'active';
CREATE INDEX enrollments_by_contact ON enrollments(contact_id, state);

CREATE TABLE automation_cursor (             -- the last event each automation engine pass has seen
  name      TEXT PRIMARY KEY,
  event_id  INTEGER NOT NULL
) WITHOUT ROWID;
)SQL",
    // 4: analytics (contact_stats and friends) goes here.
    // 5: campaign variants and policies goes here.
    // 6: delivery relays and domains goes here.
};

}  // namespace

int latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

Status migrate(const Database& db) {
  auto stmt = db.prepare("PRAGMA user_version");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return std::unexpected(row.error());
  int current = static_cast<int>(stmt->column_int(0));
  stmt->reset();
  if (current > latest_schema_version())
    return fail("database schema version " + std::to_string(current) + " is newer than this campaignd (" +
                std::to_string(latest_schema_version()) + ")");
  if (current == latest_schema_version()) return {};
  // SQLite's procedure for rebuilding tables: foreign keys off (it cannot change inside a
  // transaction), rebuild, check every reference, commit, foreign keys back on.
  if (auto s = db.exec("PRAGMA foreign_keys = OFF"); !s) return s;
  Status result;
  for (int version = current + 1; version <= latest_schema_version() && result; ++version) {
    Transaction tx(db);
    if (!tx.begun()) {
      result = std::unexpected(tx.begun().error());
      break;
    }
    if (auto s = db.exec(kMigrations[static_cast<size_t>(version - 1)]); !s) {
      result = fail("migration " + std::to_string(version) + ": " + s.error());
      break;
    }
    auto check = db.prepare("PRAGMA foreign_key_check");
    if (!check) {
      result = std::unexpected(check.error());
      break;
    }
    if (auto row = check->step(); !row || *row) {
      result = fail("migration " + std::to_string(version) + " leaves broken references");
      break;
    }
    check->reset();
    if (auto s = db.exec("PRAGMA user_version = " + std::to_string(version)); !s) result = s;
    else if (auto c = tx.commit(); !c) result = c;
  }
  if (auto s = db.exec("PRAGMA foreign_keys = ON"); !s && result) result = s;
  return result;
}

}  // namespace campaignd::store
