// `campaignd import contacts|events FILE.csv`: CSV files into the store, bad rows reported by
// line and skipped, good rows kept. Safe while the daemon runs: the import writes through its
// own connection in short transactions (WAL and the busy timeout do the rest), except contacts
// into an empty table on SQLite, which are one transaction (see import_contacts).
#pragma once

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::cli {

struct ImportReport {
  long rows = 0;        // data rows read (the header is not counted)
  long imported = 0;    // rows written (new or updated)
  long skipped = 0;     // rows rejected, one error each
  long duplicates = 0;  // events already imported before (not written again, not skipped)
  bool file_rejected = false;       // missing file, empty file or bad header: nothing was read
  std::vector<std::string> errors;  // "contacts.csv:17: invalid email 'bob@'"; the first kMaxKeptErrors
  double seconds = 0;
};

inline constexpr std::size_t kMaxKeptErrors = 1000;
inline constexpr std::size_t kMaxPrintedErrors = 100;
inline constexpr long kRowsPerTransaction = 10'000;

// Contacts: `email` required; `first_name`, `last_name`, `tags` (comma-separated), `status`;
// any other column is an attribute. Re-importing updates: non-empty names overwrite, attributes
// merge (an empty cell keeps the stored value), tags are added, and status only ever moves to
// an opted-out state (see ContactRepository::upsert). An address on the suppression list is
// imported as unsubscribed. A cell that is a JSON number literal (42, -1.5, 2e3; not 007 or +1)
// is stored as a number, anything else as a string.
//
// `progress` gets a one-line progress bar when `show_progress` (the CLI sets it from
// isatty(stderr)); `now` stamps created_at / updated_at. The database at `db_path` is created
// and migrated if needed. An error result means the import stopped (database or I/O failure);
// rows committed before it stay.
//
// Into an empty contacts table on SQLite the whole file is one transaction that drops the
// tables' indexes and builds them again before it commits (store::ContactBulkLoader): several
// times faster for a large file, all or nothing on a failure, and a running daemon's writes wait
// until it commits (past the 10 s busy timeout, sending pauses and resumes by itself, as for
// any locked database).
Result<ImportReport> import_contacts(const std::string& db_path, const std::string& csv_path, std::ostream& progress,
                                     bool show_progress, util::UnixTime now);

// Events: `email` (an existing contact), `type` ([a-z_]+, e.g. purchase), `amount` (optional
// number), `at` (optional ISO-8601, default `now`); other columns go into the event's data.
// Each row's event id is "import:" + sha256(email|type|amount|at), so importing the same file
// twice records each event once (identical rows in one file are one event).
Result<ImportReport> import_events(const std::string& db_path, const std::string& csv_path, std::ostream& progress,
                                   bool show_progress, util::UnixTime now);

// The errors (at most kMaxPrintedErrors, then "... and K more") to `errors`, and the summary
// "imported N contacts, skipped M rows (see errors above) in X s" to `out`. `noun`: "contacts".
void print_import_report(const ImportReport& report, std::string_view noun, std::ostream& out, std::ostream& errors);

// True when `text` is a JSON number literal: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view text);

// `text` as a JSON string appended to `out`, byte for byte as nlohmann::json's dump() (no
// ensure_ascii, invalid UTF-8 replaced by U+FFFD) writes it: how an import writes contact
// attributes without building a nlohmann::json for every row.
void append_json_string(std::string& out, std::string_view text);
// A (trimmed, non-empty) cell as an event import stores it in the event's data.
nlohmann::json attribute_value(std::string_view cell);
// A (trimmed, non-empty) cell as an import stores it among a contact's or an event's attributes,
// appended as JSON: a JSON number literal as a number (an integer when it has no fraction nor
// exponent and fits 64 bits), anything else as a string.
void append_attribute_json(std::string& out, std::string_view cell);

}  // namespace campaignd::cli
