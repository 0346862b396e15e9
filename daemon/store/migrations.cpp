#include "daemon/store/migrations.hpp"

#include "daemon/store/pg/pg_migrations.hpp"

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
    // 4: analytics kept current by triggers on events, so every writer path feeds them: per contact
    // (last open/click/reply, purchases, decayed engagement), per campaign (distinct responders
    // per kind, amounts, hourly buckets) and the RFM quintile boundaries (see daemon/analytics/).
    R"SQL(
CREATE TABLE contact_stats (
  contact_id         INTEGER PRIMARY KEY REFERENCES contacts(id) ON DELETE CASCADE,
  last_open_at       INTEGER,
  last_click_at      INTEGER,
  last_reply_at      INTEGER,
  first_purchase_at  INTEGER,
  last_purchase_at   INTEGER,
  purchases          INTEGER NOT NULL DEFAULT 0,
  revenue            REAL NOT NULL DEFAULT 0,
  engagement         REAL NOT NULL DEFAULT 0,  -- decayed sum of weights as of engagement_at
  engagement_at      INTEGER
);

CREATE TABLE campaign_responses (        -- who responded how, so counts stay distinct contacts
  contact_id   INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
  campaign_id  INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  first_at     INTEGER NOT NULL,
  PRIMARY KEY (contact_id, campaign_id, kind)
) WITHOUT ROWID;

CREATE TABLE campaign_counts (           -- per campaign and kind: distinct contacts, sum of amounts
  campaign_id  INTEGER NOT NULL,
  kind         TEXT NOT NULL,
  contacts     INTEGER NOT NULL DEFAULT 0,
  amount       REAL NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, kind)
) WITHOUT ROWID;

CREATE TABLE campaign_hourly (           -- responses per hour: events, and contacts responding first
  campaign_id  INTEGER NOT NULL,
  hour         INTEGER NOT NULL,           -- Unix seconds at the start of the hour (UTC)
  kind         TEXT NOT NULL,
  events       INTEGER NOT NULL DEFAULT 0,
  contacts     INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (campaign_id, hour, kind)
) WITHOUT ROWID;

CREATE TABLE rfm_boundaries (            -- quintile cut points, refreshed by analytics::refresh_rfm
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  r1 REAL, r2 REAL, r3 REAL, r4 REAL,      -- over last_purchase_at
  f1 REAL, f2 REAL, f3 REAL, f4 REAL,      -- over purchases
  m1 REAL, m2 REAL, m3 REAL, m4 REAL,      -- over revenue
  population    INTEGER NOT NULL,
  computed_at   INTEGER NOT NULL
);

-- Backfill from the events already stored; the triggers below keep the tables current.
INSERT INTO contact_stats (contact_id, last_open_at, last_click_at, last_reply_at,
                           first_purchase_at, last_purchase_at, purchases, revenue, engagement, engagement_at)
SELECT e.contact_id,
       MAX(CASE WHEN e.kind = 'opened' AND e.machine = 0 THEN e.at END),
       MAX(CASE WHEN e.kind = 'clicked' AND e.machine = 0 THEN e.at END),
       MAX(CASE WHEN e.kind = 'replied' AND e.machine = 0 THEN e.at END),
       MIN(CASE WHEN e.kind = 'purchase' THEN e.at END),
       MAX(CASE WHEN e.kind = 'purchase' THEN e.at END),
       COUNT(CASE WHEN e.kind = 'purchase' THEN 1 END),
       TOTAL(CASE WHEN e.kind = 'purchase' THEN e.amount END),
       TOTAL(CASE WHEN e.machine = 0 AND e.kind IN ('opened', 'clicked', 'replied')
                  THEN (CASE e.kind WHEN 'opened' THEN 1.0 WHEN 'clicked' THEN 2.0 ELSE 3.0 END)
                       * pow(2.0, (e.at - r.ref) / 2592000.0) END),
       r.ref
FROM events e
LEFT JOIN (SELECT contact_id, MAX(at) AS ref FROM events
           WHERE contact_id IS NOT NULL AND machine = 0 AND kind IN ('opened', 'clicked', 'replied')
           GROUP BY contact_id) r ON r.contact_id = e.contact_id
WHERE e.contact_id IS NOT NULL
  AND (e.kind = 'purchase' OR (e.machine = 0 AND e.kind IN ('opened', 'clicked', 'replied')))
GROUP BY e.contact_id;

INSERT INTO campaign_responses (contact_id, campaign_id, kind, first_at)
SELECT contact_id, campaign_id, kind, MIN(at) FROM events
WHERE campaign_id IS NOT NULL AND contact_id IS NOT NULL AND machine = 0 AND kind <> 'sent'
GROUP BY contact_id, campaign_id, kind;

INSERT INTO campaign_counts (campaign_id, kind, contacts, amount)
SELECT campaign_id, kind, COUNT(DISTINCT contact_id), TOTAL(amount) FROM events
WHERE campaign_id IS NOT NULL AND contact_id IS NOT NULL AND machine = 0 AND kind <> 'sent'
GROUP BY campaign_id, kind;

INSERT INTO campaign_hourly (campaign_id, hour, kind, events, contacts)
SELECT campaign_id, at - at % 3600, kind, COUNT(*), 0 FROM events
WHERE campaign_id IS NOT NULL AND contact_id IS NOT NULL AND machine = 0 AND kind IN ('opened', 'clicked', 'replied', 'unsubscribed', 'converted')
GROUP BY campaign_id, at - at % 3600, kind;
UPDATE campaign_hourly SET contacts = (
  SELECT COUNT(*) FROM campaign_responses r
  WHERE r.campaign_id = campaign_hourly.campaign_id AND r.kind = campaign_hourly.kind
    AND r.first_at - r.first_at % 3600 = campaign_hourly.hour);

-- Engagement: new = old * 2^-(dt / 30 days) + weight (opened 1, clicked 2, replied 3); an event
-- older than the sum's reference time is decayed to it instead, so order of arrival does not matter.
CREATE TRIGGER analytics_engagement AFTER INSERT ON events
WHEN NEW.contact_id IS NOT NULL AND NEW.machine = 0 AND NEW.kind IN ('opened', 'clicked', 'replied')
BEGIN
  INSERT INTO contact_stats (contact_id, last_open_at, last_click_at, last_reply_at, engagement, engagement_at)
  VALUES (NEW.contact_id,
          CASE NEW.kind WHEN 'opened' THEN NEW.at END,
          CASE NEW.kind WHEN 'clicked' THEN NEW.at END,
          CASE NEW.kind WHEN 'replied' THEN NEW.at END,
          CASE NEW.kind WHEN 'opened' THEN 1.0 WHEN 'clicked' THEN 2.0 ELSE 3.0 END,
          NEW.at)
  ON CONFLICT (contact_id) DO UPDATE SET
    last_open_at = MAX(COALESCE(last_open_at, excluded.last_open_at), COALESCE(excluded.last_open_at, last_open_at)),
    last_click_at = MAX(COALESCE(last_click_at, excluded.last_click_at), COALESCE(excluded.last_click_at, last_click_at)),
    last_reply_at = MAX(COALESCE(last_reply_at, excluded.last_reply_at), COALESCE(excluded.last_reply_at, last_reply_at)),
    engagement = CASE
      WHEN engagement_at IS NULL THEN excluded.engagement
      WHEN excluded.engagement_at >= engagement_at
        THEN engagement * pow(2.0, (engagement_at - excluded.engagement_at) / 2592000.0) + excluded.engagement
      ELSE engagement + excluded.engagement * pow(2.0, (excluded.engagement_at - engagement_at) / 2592000.0) END,
    engagement_at = MAX(COALESCE(engagement_at, excluded.engagement_at), excluded.engagement_at);
END;

CREATE TRIGGER analytics_purchase AFTER INSERT ON events
WHEN NEW.contact_id IS NOT NULL AND NEW.kind = 'purchase'
BEGIN
  INSERT INTO contact_stats (contact_id, first_purchase_at, last_purchase_at, purchases, revenue)
  VALUES (NEW.contact_id, NEW.at, NEW.at, 1, COALESCE(NEW.amount, 0))
  ON CONFLICT (contact_id) DO UPDATE SET
    first_purchase_at = MIN(COALESCE(first_purchase_at, excluded.first_purchase_at), excluded.first_purchase_at),
    last_purchase_at = MAX(COALESCE(last_purchase_at, excluded.last_purchase_at), excluded.last_purchase_at),
    purchases = purchases + 1,
    revenue = revenue + excluded.revenue;
END;

-- Per campaign, human events of a contact other than `sent` (the sends table counts those). The
-- first of a kind per contact and campaign makes a campaign_responses row, whose own trigger
-- counts the contact; repeats stop at that row's primary key.
CREATE TRIGGER analytics_campaign AFTER INSERT ON events
WHEN NEW.campaign_id IS NOT NULL AND NEW.contact_id IS NOT NULL AND NEW.machine = 0 AND NEW.kind <> 'sent'
BEGIN
  INSERT INTO campaign_hourly (campaign_id, hour, kind, events)
  SELECT NEW.campaign_id, NEW.at - NEW.at % 3600, NEW.kind, 1
  WHERE NEW.kind IN ('opened', 'clicked', 'replied', 'unsubscribed', 'converted')
  ON CONFLICT DO UPDATE SET events = events + 1;
  INSERT INTO campaign_responses (contact_id, campaign_id, kind, first_at)
  VALUES (NEW.contact_id, NEW.campaign_id, NEW.kind, NEW.at)
  ON CONFLICT DO NOTHING;
  UPDATE campaign_counts SET amount = amount + NEW.amount
  WHERE NEW.amount IS NOT NULL AND campaign_id = NEW.campaign_id AND kind = NEW.kind;
END;
CREATE TRIGGER analytics_response AFTER INSERT ON campaign_responses
BEGIN
  INSERT INTO campaign_counts (campaign_id, kind, contacts) VALUES (NEW.campaign_id, NEW.kind, 1)
  ON CONFLICT DO UPDATE SET contacts = contacts + 1;
  UPDATE campaign_hourly SET contacts = contacts + 1
  WHERE NEW.kind IN ('opened', 'clicked', 'replied', 'unsubscribed', 'converted')
    AND campaign_id = NEW.campaign_id AND hour = NEW.first_at - NEW.first_at % 3600 AND kind = NEW.kind;
END;

-- Forgetting a contact deletes its events (ON DELETE CASCADE) and its responses: the counts follow.
CREATE TRIGGER analytics_event_gone AFTER DELETE ON events
WHEN OLD.campaign_id IS NOT NULL AND OLD.contact_id IS NOT NULL AND OLD.machine = 0 AND OLD.kind <> 'sent'
BEGIN
  UPDATE campaign_counts SET amount = amount - OLD.amount
  WHERE OLD.amount IS NOT NULL AND campaign_id = OLD.campaign_id AND kind = OLD.kind;
  UPDATE campaign_hourly SET events = events - 1
  WHERE OLD.kind IN ('opened', 'clicked', 'replied', 'unsubscribed', 'converted')
    AND campaign_id = OLD.campaign_id AND hour = OLD.at - OLD.at % 3600 AND kind = OLD.kind;
END;
CREATE TRIGGER analytics_response_gone AFTER DELETE ON campaign_responses
BEGIN
  UPDATE campaign_counts SET contacts = contacts - 1 WHERE campaign_id = OLD.campaign_id AND kind = OLD.kind;
  UPDATE campaign_hourly SET contacts = contacts - 1
  WHERE campaign_id = OLD.campaign_id AND hour = OLD.first_at - OLD.first_at % 3600 AND kind = OLD.kind;
END;
)SQL",
    // 5: A/B testing: the variant each send carries, and each A/B test's state and decision (see
    // daemon/campaigns/ab_decisions.hpp).
    R"SQL(
ALTER TABLE sends ADD COLUMN variant TEXT;   -- the A/B variant's name; NULL = the campaign as written
CREATE INDEX sends_by_variant ON sends(campaign_id, variant) WHERE variant IS NOT NULL;

CREATE TABLE ab_decisions (
  campaign_id  INTEGER PRIMARY KEY REFERENCES campaigns(id),
  state        TEXT NOT NULL CHECK (state IN ('testing','decided')),
  metric       TEXT NOT NULL CHECK (metric IN ('opens','clicks','replies','conversions')),
  fraction     REAL NOT NULL,               -- share of the segment in the test group
  confidence   REAL NOT NULL,               -- significant when p_value < 1 - confidence
  test_size    INTEGER NOT NULL,            -- sends queued for the test group
  started_at   INTEGER NOT NULL,
  decide_at    INTEGER NOT NULL,            -- started_at + wait
  test         TEXT,                        -- two-proportion z-test | fisher exact | chi-square
  statistic    REAL,
  p_value      REAL,
  significant  INTEGER,                     -- 0 = the winner is only the best point estimate
  winner       TEXT,
  numbers      TEXT,                        -- JSON [{"variant","sent","responded","rate"}] in file order
  remainder    INTEGER,                     -- sends queued with the winner
  decided_at   INTEGER
);
CREATE INDEX ab_decisions_due ON ab_decisions(decide_at) WHERE state = 'testing';
)SQL",
    // 6: what each relay sent per hour (sliding-window caps and warm-up survive restarts), and
    // when each relay's warm-up began.
    R"SQL(
CREATE TABLE relay_usage (
  relay  TEXT NOT NULL,
  hour   INTEGER NOT NULL,                 -- unix time / 3600
  sent   INTEGER NOT NULL,
  PRIMARY KEY (relay, hour)
) WITHOUT ROWID;
CREATE TABLE relay_warmup (
  relay       TEXT PRIMARY KEY,
  started_at  INTEGER NOT NULL             -- the first day of the schedule (00:00 UTC)
) WITHOUT ROWID;
)SQL",
    // 7: several nodes (PostgreSQL; see pg/pg_migrations.cpp). On SQLite there is one node and
    // its leases never compete, but the columns and the table are the same on both engines, so
    // `migrate-store` copies like for like.
    R"SQL(
ALTER TABLE sends ADD COLUMN lease_owner TEXT;
ALTER TABLE sends ADD COLUMN lease_until INTEGER;
CREATE INDEX sends_leased ON sends(lease_until) WHERE state = 'sending';
CREATE TABLE nodes (
  id            TEXT PRIMARY KEY,            -- host:pid:start, chosen by the node
  started_at    INTEGER NOT NULL,
  heartbeat_at  INTEGER NOT NULL,
  sent          INTEGER NOT NULL DEFAULT 0,  -- messages sent since it started
  send_rate     REAL NOT NULL DEFAULT 0,
  leader        INTEGER NOT NULL DEFAULT 0   -- 1 = holds the scheduler's advisory lock
) WITHOUT ROWID;

-- Migration 4's analytics triggers, the same rules with kinds tested by OR chains instead of
-- `kind IN (...)`: inside a trigger SQLite builds an IN list's lookup table anew on every firing,
-- which made each event more than twice as dear.
DROP TRIGGER analytics_engagement;
CREATE TRIGGER analytics_engagement AFTER INSERT ON events
WHEN NEW.contact_id IS NOT NULL AND NEW.machine = 0 AND (NEW.kind = 'opened' OR NEW.kind = 'clicked' OR NEW.kind = 'replied')
BEGIN
  INSERT INTO contact_stats (contact_id, last_open_at, last_click_at, last_reply_at, engagement, engagement_at)
  VALUES (NEW.contact_id,
          CASE NEW.kind WHEN 'opened' THEN NEW.at END,
          CASE NEW.kind WHEN 'clicked' THEN NEW.at END,
          CASE NEW.kind WHEN 'replied' THEN NEW.at END,
          CASE NEW.kind WHEN 'opened' THEN 1.0 WHEN 'clicked' THEN 2.0 ELSE 3.0 END,
          NEW.at)
  ON CONFLICT (contact_id) DO UPDATE SET
    last_open_at = MAX(COALESCE(last_open_at, excluded.last_open_at), COALESCE(excluded.last_open_at, last_open_at)),
    last_click_at = MAX(COALESCE(last_click_at, excluded.last_click_at), COALESCE(excluded.last_click_at, last_click_at)),
    last_reply_at = MAX(COALESCE(last_reply_at, excluded.last_reply_at), COALESCE(excluded.last_reply_at, last_reply_at)),
    engagement = CASE
      WHEN engagement_at IS NULL THEN excluded.engagement
      WHEN excluded.engagement_at >= engagement_at
        THEN engagement * pow(2.0, (engagement_at - excluded.engagement_at) / 2592000.0) + excluded.engagement
      ELSE engagement + excluded.engagement * pow(2.0, (excluded.engagement_at - engagement_at) / 2592000.0) END,
    engagement_at = MAX(COALESCE(engagement_at, excluded.engagement_at), excluded.engagement_at);
END;

DROP TRIGGER analytics_campaign;
CREATE TRIGGER analytics_campaign AFTER INSERT ON events
WHEN NEW.campaign_id IS NOT NULL AND NEW.contact_id IS NOT NULL AND NEW.machine = 0 AND NEW.kind <> 'sent'
BEGIN
  INSERT INTO campaign_hourly (campaign_id, hour, kind, events)
  SELECT NEW.campaign_id, NEW.at - NEW.at % 3600, NEW.kind, 1
  WHERE (NEW.kind = 'opened' OR NEW.kind = 'clicked' OR NEW.kind = 'replied' OR NEW.kind = 'unsubscribed' OR NEW.kind = 'converted')
  ON CONFLICT DO UPDATE SET events = events + 1;
  INSERT INTO campaign_responses (contact_id, campaign_id, kind, first_at)
  VALUES (NEW.contact_id, NEW.campaign_id, NEW.kind, NEW.at)
  ON CONFLICT DO NOTHING;
  UPDATE campaign_counts SET amount = amount + NEW.amount
  WHERE NEW.amount IS NOT NULL AND campaign_id = NEW.campaign_id AND kind = NEW.kind;
END;

DROP TRIGGER analytics_response;
CREATE TRIGGER analytics_response AFTER INSERT ON campaign_responses
BEGIN
  INSERT INTO campaign_counts (campaign_id, kind, contacts) VALUES (NEW.campaign_id, NEW.kind, 1)
  ON CONFLICT DO UPDATE SET contacts = contacts + 1;
  UPDATE campaign_hourly SET contacts = contacts + 1
  WHERE (NEW.kind = 'opened' OR NEW.kind = 'clicked' OR NEW.kind = 'replied' OR NEW.kind = 'unsubscribed' OR NEW.kind = 'converted')
    AND campaign_id = NEW.campaign_id AND hour = NEW.first_at - NEW.first_at % 3600 AND kind = NEW.kind;
END;

DROP TRIGGER analytics_event_gone;
CREATE TRIGGER analytics_event_gone AFTER DELETE ON events
WHEN OLD.campaign_id IS NOT NULL AND OLD.contact_id IS NOT NULL AND OLD.machine = 0 AND OLD.kind <> 'sent'
BEGIN
  UPDATE campaign_counts SET amount = amount - OLD.amount
  WHERE OLD.amount IS NOT NULL AND campaign_id = OLD.campaign_id AND kind = OLD.kind;
  UPDATE campaign_hourly SET events = events - 1
  WHERE (OLD.kind = 'opened' OR OLD.kind = 'clicked' OR OLD.kind = 'replied' OR OLD.kind = 'unsubscribed' OR OLD.kind = 'converted')
    AND campaign_id = OLD.campaign_id AND hour = OLD.at - OLD.at % 3600 AND kind = OLD.kind;
END;
)SQL",
    // 8: the leading node's campaign, template and rule files, for the other nodes to render
    // from (one row; see campaigns/leader_files.hpp). Written on PostgreSQL only, where there
    // are other nodes; the table is here so both engines have the same schema.
    R"SQL(
CREATE TABLE leader_files (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  digest    TEXT NOT NULL,                 -- sha256 over every path and content
  files     TEXT NOT NULL,                 -- JSON: {"campaigns/x.yaml": base64url, ...}
  node      TEXT NOT NULL,                 -- who wrote them
  taken_at  INTEGER NOT NULL
);
)SQL",
    // 9: the contacts' unique email as a named index (contacts_by_email) instead of the
    // column's UNIQUE, which SQLite cannot drop: an import into an empty table drops the index
    // and builds it once, by sorting, at the end (ContactBulkLoader in contacts.hpp). The table
    // is rebuilt SQLite's way (migrate() turns foreign keys off, so dropping the old table
    // deletes no tags, sends or events; every reference to contacts(id) names the new table
    // once it is renamed, and the ids are copied). No trigger, view or other index is on
    // contacts.
    R"SQL(
CREATE TABLE contacts_v9 (
  id            INTEGER PRIMARY KEY,
  email         TEXT NOT NULL,                 -- normalised (trimmed, lower-case); unique by contacts_by_email
  first_name    TEXT NOT NULL DEFAULT '',
  last_name     TEXT NOT NULL DEFAULT '',
  status        TEXT NOT NULL DEFAULT 'subscribed'
                CHECK (status IN ('subscribed','pending','unsubscribed','bounced','complained')),
  attrs         TEXT NOT NULL DEFAULT '{}',    -- JSON object; numbers stored as JSON numbers
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL,
  soft_bounces  INTEGER NOT NULL DEFAULT 0
);
INSERT INTO contacts_v9 (id, email, first_name, last_name, status, attrs, created_at, updated_at, soft_bounces)
  SELECT id, email, first_name, last_name, status, attrs, created_at, updated_at, soft_bounces FROM contacts;
DROP TABLE contacts;
ALTER TABLE contacts_v9 RENAME TO contacts;
CREATE UNIQUE INDEX contacts_by_email ON contacts(email);
)SQL",
    // 10: events lose events_by_send. Each event added an entry to it at a random place (the
    // send's), a page the writer dirtied and logged for one event; its one reader, the campaign
    // report's "which click led to this conversion", finds the send's clicks through the
    // contact's own (events_by_contact), a handful of rows.
    R"SQL(
DROP INDEX events_by_send;
)SQL",
};

}  // namespace

int latest_schema_version() { return static_cast<int>(std::size(kMigrations)); }

Status migrate(const Database& db) { return migrate_to(db, latest_schema_version()); }

Status migrate_to(const Database& db, int target) {
  // PostgreSQL's texts of the same versions, applied under an advisory lock.
  if (auto* postgresql = db.postgresql_connection()) return pg::pg_migrate_to(*postgresql, target);
  if (target < 0 || target > latest_schema_version())
    return fail("no schema version " + std::to_string(target) + " (latest is " +
                std::to_string(latest_schema_version()) + ")");
  auto stmt = db.prepare("PRAGMA user_version");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->step();
  if (!row) return std::unexpected(row.error());
  int current = static_cast<int>(stmt->column_int(0));
  stmt->reset();
  if (current > latest_schema_version())
    return fail("database schema version " + std::to_string(current) + " is newer than this campaignd (" +
                std::to_string(latest_schema_version()) + ")");
  if (current >= target) return {};
  // SQLite's procedure for rebuilding tables: foreign keys off (it cannot change inside a
  // transaction), rebuild, check every reference, commit, foreign keys back on.
  if (auto s = db.exec("PRAGMA foreign_keys = OFF"); !s) return s;
  Status result;
  for (int version = current + 1; version <= target && result; ++version) {
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
