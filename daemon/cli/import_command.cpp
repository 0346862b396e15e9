// CSV import of contacts and events: header checks, per-row validation with the CSV line in
// every error, batched writes, and a progress bar for the terminal.
#include "daemon/cli/import_command.hpp"

#include "daemon/tracking/conversions.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "daemon/cli/commands.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/database.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/migrations.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/csv.hpp"
#include "daemon/util/email_address.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::cli {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// ---- small helpers ---------------------------------------------------------------------------

// A cell as it may appear inside an error message: one line, not too long.
std::string cell_text(std::string_view cell) {
  std::string s = util::strip_controls(cell.substr(0, 60));
  if (cell.size() > 60) s += "...";
  return "'" + s + "'";
}

std::string with_thousands(long n) {
  std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return n < 0 ? "-" + out : out;
}

std::string short_rate(double per_second) {
  char buf[32];
  if (per_second >= 1e6)
    std::snprintf(buf, sizeof buf, "%.1fM", per_second / 1e6);
  else if (per_second >= 1e3)
    std::snprintf(buf, sizeof buf, "%.0fk", per_second / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", per_second);
  return buf;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- progress bar ----------------------------------------------------------------------------

// "\r[#####     ] 52% 520,000 rows 173k rows/s", redrawn at most ten times a second.
class ProgressBar {
 public:
  ProgressBar(std::ostream& out, bool enabled, std::uint64_t total_bytes)
      : out_(out), enabled_(enabled), total_(total_bytes), start_(Clock::now()), last_(start_) {}

  void update(std::uint64_t bytes, long rows) {
    if (!enabled_ || (rows & 63) != 0) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    draw(bytes, rows, now);
  }

  void finish(std::uint64_t bytes, long rows) {
    if (!enabled_) return;
    draw(bytes, rows, Clock::now());
    out_ << "\n" << std::flush;
  }

 private:
  void draw(std::uint64_t bytes, long rows, Clock::time_point now) {
    constexpr int kWidth = 20;
    double elapsed = std::chrono::duration<double>(now - start_).count();
    double rate = elapsed > 0 ? static_cast<double>(rows) / elapsed : 0;
    std::string line = "\r";
    if (total_ > 0) {
      double fraction = std::min(1.0, static_cast<double>(bytes) / static_cast<double>(total_));
      int filled = static_cast<int>(fraction * kWidth);
      line += "[" + std::string(static_cast<std::size_t>(filled), '#') +
              std::string(static_cast<std::size_t>(kWidth - filled), ' ') + "] " +
              std::to_string(static_cast<int>(fraction * 100)) + "% ";
    }
    line += with_thousands(rows) + " rows " + short_rate(rate) + " rows/s   ";
    out_ << line << std::flush;
  }

  std::ostream& out_;
  bool enabled_;
  std::uint64_t total_;
  Clock::time_point start_, last_;
};

// ---- the shared import loop ------------------------------------------------------------------

struct Columns {
  std::vector<std::string> names;  // trimmed, as written
  std::unordered_map<std::string, std::size_t> index;  // lower-cased name -> position

  std::optional<std::size_t> find(const std::string& lower_name) const {
    auto it = index.find(lower_name);
    if (it == index.end()) return std::nullopt;
    return it->second;
  }
};

// How the rows are grouped into write transactions.
enum class Batching {
  // kRowsPerTransaction at a time: a running daemon's writes wait a moment at most, and a
  // failure keeps the batches committed before it.
  batches,
  // One transaction for the whole file: all or nothing (a bulk load into an empty table).
  whole_file,
};

// What one kind of import does with the header and with each row (ContactSink, EventSink):
//   std::optional<std::string> accept_header(const Columns&)  a message (without the file:line
//       place) when the header cannot be used; called before any row is read.
//   void prepare(std::vector<std::string>& fields, Prepared& out)  whatever a row needs that
//       touches no store; runs on the reading thread, concurrently with write_row of earlier
//       rows, so it may only read what accept_header set. May take the fields' strings.
//   Result<Batching> begin()  called inside the first write transaction, before the first row.
//   Result<Outcome> write_row(Prepared&)  a message when the row is rejected (nothing written);
//       an error result when the store failed.
//   Status finish()  called inside the last write transaction, before it commits.
struct Outcome {
  std::optional<std::string> rejected;
  bool duplicate = false;
};

// Hands batches of rows from the thread that reads the CSV to the one that writes them, at
// most `capacity` batches ahead, so a file of any size is never held in memory. Either side
// may give up: the reader by close() (the end of the file, or its exception), the writer by a
// stop request on the reader's jthread, which wakes a push() waiting for room.
template <typename T>
class BoundedQueue {
 public:
  explicit BoundedQueue(std::size_t capacity) : capacity_(capacity) {}

  // false when the writer has stopped: the reader should stop too.
  bool push(T item, std::stop_token stop) {
    std::unique_lock lock(mutex_);
    if (!not_full_.wait(lock, stop, [&] { return items_.size() < capacity_; })) return false;
    items_.push_back(std::move(item));
    not_empty_.notify_one();
    return true;
  }

  // Nothing once the reader has closed the queue and every batch has been taken.
  std::optional<T> pop() {
    std::unique_lock lock(mutex_);
    not_empty_.wait(lock, [&] { return !items_.empty() || closed_; });
    if (items_.empty()) return std::nullopt;
    T item = std::move(items_.front());
    items_.pop_front();
    not_full_.notify_one();
    return item;
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    not_empty_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any not_full_;
  std::condition_variable not_empty_;
  std::deque<T> items_;
  std::size_t capacity_;
  bool closed_ = false;
};

// One CSV record as the reading thread passes it on.
template <typename Prepared>
struct ReadRow {
  long line = 0;
  std::uint64_t bytes = 0;  // read from the file once this record was: for the progress bar
  // A record that never reaches the sink (malformed CSV, wrong field count): its whole message.
  std::optional<std::string> unreadable;
  Prepared prepared;
};

class Importer {
 public:
  Importer(const std::string& csv_path, std::ostream& progress, bool show_progress)
      : csv_path_(csv_path), progress_(progress), show_progress_(show_progress) {}

  // Opens and migrates the database, then hands it to `make_sink` for the repositories.
  // Rows are read and prepared on a second thread while this one writes the rows before them.
  template <typename MakeSink>
  Result<ImportReport> run(const std::string& db_path, MakeSink make_sink) {
    auto start = Clock::now();
    ImportReport report;
    std::ifstream in(csv_path_, std::ios::binary);
    if (!in || fs::is_directory(csv_path_)) {
      report.file_rejected = true;
      report.errors.push_back(csv_path_ + ": cannot open: " + (fs::is_directory(csv_path_) ? "is a directory" : fs::exists(csv_path_) ? "permission denied" : "no such file"));
      return report;
    }
    auto db = open_database(db_path);
    if (!db) return std::unexpected(db.error());
    auto sink = make_sink(*db);
    if (!sink) return std::unexpected(sink.error());
    auto result = read_all(in, *db, **sink, report);
    report.seconds = seconds_since(start);
    if (!result) return std::unexpected(result.error());
    return report;
  }

 private:
  static Result<store::Database> open_database(const std::string& target) {
    auto db = store::Database::open(target);
    if (!db) return std::unexpected(db.error());
    if (auto s = store::migrate(*db); !s) return std::unexpected(s.error());
    if (db->is_postgresql()) return db;
    // A larger page cache keeps the email index in memory over a million random inserts, and
    // fewer, larger checkpoints stop rewriting the same index pages every 4 MB of WAL. Both
    // are per connection: the daemon's own connections keep their settings.
    (void)db->exec("PRAGMA cache_size = -65536; PRAGMA wal_autocheckpoint = 16384");
    // Migration 1's CHECK (status IN (...)) makes SQLite build the IN list's lookup table anew
    // for every row written, a fifth of an import's time. Every row's status is checked here
    // first (is_contact_status, in the sink and in ContactRepository::upsert), so this
    // connection skips the CHECK; the daemon's connections keep it.
    (void)db->exec("PRAGMA ignore_check_constraints = ON");
    return db;
  }

  std::string place(long line) const { return csv_path_ + ":" + std::to_string(line) + ": "; }

  // What a failure inside the open transaction of `in_tx` rows leaves in the store.
  static std::string lost_rows(Batching batching, long in_tx) {
    if (batching == Batching::whole_file)
      return " (nothing was imported: the import into an empty table is one transaction)";
    return " (the last " + std::to_string(in_tx) + " rows were rolled back; rows before them are saved)";
  }

  void reject(ImportReport& report, std::string message) {
    ++report.skipped;
    if (report.errors.size() < kMaxKeptErrors) report.errors.push_back(std::move(message));
  }

  // Rows per batch handed from the reading thread to the writing one, and batches in flight:
  // enough that neither waits on the other's bursts, little enough to keep memory flat.
  static constexpr std::size_t kBatchRows = 1000;
  static constexpr std::size_t kBatchesAhead = 4;

  template <typename Sink>
  Status read_all(std::istream& in, const store::Database& db, Sink& sink, ImportReport& report) {
    using Row = ReadRow<typename Sink::Prepared>;
    using Batch = std::vector<Row>;
    std::error_code ec;
    auto size = fs::file_size(csv_path_, ec);
    util::CsvReader reader(in, csv_path_);
    util::CsvRecord record;

    auto header = reader.next(record);
    if (!header || !*header) {
      report.file_rejected = true;
      report.errors.push_back(header ? csv_path_ + ":1: empty file (expected a header row)" : header.error());
      return {};
    }
    Columns columns;
    for (std::size_t i = 0; i < record.fields.size(); ++i) {
      std::string name(util::trim(record.fields[i]));
      std::string problem;
      if (name.empty()) problem = "column " + std::to_string(i + 1) + " has no name";
      else if (!columns.index.emplace(util::to_lower(name), i).second) problem = "duplicate column " + cell_text(name);
      if (!problem.empty()) {
        report.file_rejected = true;
        report.errors.push_back(place(record.line) + problem);
        return {};
      }
      columns.names.push_back(std::move(name));
    }
    if (auto problem = sink.accept_header(columns)) {
      report.file_rejected = true;
      report.errors.push_back(place(record.line) + *problem);
      return {};
    }

    BoundedQueue<Batch> queue(kBatchesAhead);
    std::exception_ptr reader_failed;  // written by the reader before close(), read after pop()
    std::uint64_t bytes_at_end = 0;    // likewise
    // The reader stops between records once the writer stops (a stop request, sent by the
    // jthread's destructor on every way out of this function, before `queue` is destroyed).
    std::jthread reading([&](std::stop_token stop) {
      try {
        const std::size_t width = columns.names.size();
        Batch batch;
        batch.reserve(kBatchRows);
        while (!stop.stop_requested()) {
          auto got = reader.next(record);
          if (got && !*got) break;
          Row& row = batch.emplace_back();
          row.line = record.line;
          row.bytes = reader.bytes_consumed();
          if (!got)
            row.unreadable = got.error();
          else if (record.fields.size() != width)
            row.unreadable = place(record.line) + "expected " + std::to_string(width) + " fields, found " +
                             std::to_string(record.fields.size());
          else
            sink.prepare(record.fields, row.prepared);
          if (batch.size() == kBatchRows) {
            if (!queue.push(std::move(batch), stop)) break;
            batch = Batch();
            batch.reserve(kBatchRows);
          }
        }
        if (!batch.empty()) queue.push(std::move(batch), stop);
        bytes_at_end = reader.bytes_consumed();
      } catch (...) {
        reader_failed = std::current_exception();
      }
      queue.close();
    });

    ProgressBar bar(progress_, show_progress_, ec ? 0 : size);
    std::optional<store::Transaction> tx;
    std::optional<Batching> batching;  // known once the first transaction has begun
    long in_tx = 0;
    while (auto batch = queue.pop()) {
      for (Row& row : *batch) {
        ++report.rows;
        bar.update(row.bytes, report.rows);
        if (row.unreadable) {
          reject(report, std::move(*row.unreadable));
          continue;
        }
        if (!tx) {
          tx.emplace(db);
          if (!tx->begun()) return fail(place(row.line) + "import stopped: " + tx->begun().error());
          if (!batching) {
            auto chosen = sink.begin();
            if (!chosen) return fail(place(row.line) + "import stopped: " + chosen.error());
            batching = *chosen;
          }
        }
        auto outcome = sink.write_row(row.prepared);
        if (!outcome)
          return fail(place(row.line) + "import stopped: " + outcome.error() + lost_rows(*batching, in_tx));
        if (outcome->rejected) {
          reject(report, place(row.line) + *outcome->rejected);
        } else if (outcome->duplicate) {
          ++report.duplicates;
        } else {
          ++report.imported;
        }
        if (++in_tx >= kRowsPerTransaction && batching == Batching::batches) {
          if (auto s = tx->commit(); !s) return fail(place(row.line) + "import stopped: " + s.error());
          tx.reset();
          in_tx = 0;
        }
      }
    }
    // The file may not have been read to its end: nothing of the open transaction is kept.
    if (reader_failed) std::rethrow_exception(reader_failed);
    if (tx) {
      auto done = sink.finish();
      if (done) done = tx->commit();
      if (!done) return fail(csv_path_ + ": import stopped: " + done.error() + lost_rows(*batching, in_tx));
    }
    bar.finish(bytes_at_end, report.rows);
    return {};
  }

  std::string csv_path_;
  std::ostream& progress_;
  bool show_progress_;
};

// The email cell of a row, validated and normalised; or why it is not usable.
Result<std::string> email_cell(const std::string& cell) {
  std::string_view raw = util::trim(cell);
  if (raw.empty()) return fail("missing email");
  std::string email = util::normalize_address(raw);
  if (!util::is_valid_address(email)) return fail("invalid email " + cell_text(raw));
  return email;
}

// ---- contacts --------------------------------------------------------------------------------

class ContactSink final {
 public:
  struct Prepared {
    std::optional<std::string> rejected;
    store::Contact contact;  // its attrs left empty: attrs_json is what is written
    std::string attrs_json;
  };

  ContactSink(const store::Database& db, std::unordered_set<std::string> suppressed, util::UnixTime now,
              store::BulkLoadJournal journal)
      : db_(db), contacts_(db), suppressed_(std::move(suppressed)), now_(now), journal_(std::move(journal)) {}

  // An empty table on SQLite is filled by a bulk load: without its indexes, which are built at
  // the end, by sorting, instead of taking a million rows in random email order one at a time.
  Result<Batching> begin() {
    auto loader = store::ContactBulkLoader::start(db_);
    if (!loader) return std::unexpected(loader.error());
    bulk_ = std::move(*loader);
    return bulk_ ? Batching::whole_file : Batching::batches;
  }

  Status finish() { return bulk_ ? bulk_->finish() : Status{}; }

  std::optional<std::string> accept_header(const Columns& columns) {
    auto email = columns.find("email");
    if (!email) return "no 'email' column (columns: " + join(columns.names) + ")";
    email_ = *email;
    first_ = columns.find("first_name");
    last_ = columns.find("last_name");
    tags_ = columns.find("tags");
    status_ = columns.find("status");
    std::vector<std::pair<std::string, std::size_t>> by_name;
    for (std::size_t i = 0; i < columns.names.size(); ++i)
      if (i != email_ && i != first_ && i != last_ && i != tags_ && i != status_)
        by_name.emplace_back(columns.names[i], i);
    // nlohmann::json's objects keep their keys sorted, and attrs written before kept that order.
    std::sort(by_name.begin(), by_name.end());
    for (const auto& [name, i] : by_name) {
      std::string key;
      append_json_string(key, name);
      attribute_keys_.emplace_back(i, key + ":");
    }
    return std::nullopt;
  }

  void prepare(std::vector<std::string>& fields, Prepared& out) const {
    auto email = email_cell(fields[email_]);
    if (!email) {
      out.rejected = email.error();
      return;
    }
    store::Contact& c = out.contact;
    c.email = std::move(*email);
    if (status_) {
      std::string status = util::to_lower(util::trim(fields[*status_]));
      if (!status.empty()) {
        if (!store::is_contact_status(status)) {
          out.rejected = "unknown status " + cell_text(fields[*status_]) +
                         " (subscribed, pending, unsubscribed, bounced or complained)";
          return;
        }
        c.status = std::move(status);
      }
    }
    if (!suppressed_.empty() && !store::is_opted_out_status(c.status) &&
        suppressed_.contains(util::sha256_hex(c.email)))
      c.status = "unsubscribed";
    if (first_) c.first_name = util::trim(fields[*first_]);
    if (last_) c.last_name = util::trim(fields[*last_]);
    if (tags_)
      for (const auto& tag : util::split(fields[*tags_], ','))
        if (auto t = util::trim(tag); !t.empty()) c.tags.emplace_back(t);
    // As store::attrs_text would write a nlohmann::json object of the same cells (keys sorted),
    // without building one for every row of a million.
    std::string& json = out.attrs_json;
    json += '{';
    for (const auto& [i, key] : attribute_keys_) {
      auto cell = util::trim(fields[i]);
      if (cell.empty()) continue;
      if (json.size() > 1) json += ',';
      json += key;
      append_attribute_json(json, cell);
    }
    json += '}';
    c.created_at = c.updated_at = now_;
  }

  Result<Outcome> write_row(Prepared& row) {
    if (row.rejected) return Outcome{std::move(row.rejected)};
    if (bulk_) {
      if (auto id = bulk_->add(row.contact, row.attrs_json); !id) return std::unexpected(id.error());
    } else if (auto s = contacts_.upsert(row.contact, store::UpsertMode::merge, row.attrs_json); !s) {
      return std::unexpected(s.error());
    }
    return Outcome{};
  }

 private:
  static std::string join(const std::vector<std::string>& names) {
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
  }

  const store::Database& db_;
  store::ContactRepository contacts_;
  std::optional<store::ContactBulkLoader> bulk_;
  std::unordered_set<std::string> suppressed_;
  util::UnixTime now_;
  store::BulkLoadJournal journal_;  // back to WAL when the sink goes, after the last commit
  std::size_t email_ = 0;
  std::optional<std::size_t> first_, last_, tags_, status_;
  std::vector<std::pair<std::size_t, std::string>> attribute_keys_;  // column, "\"name\":"; by name
};

// ---- events ----------------------------------------------------------------------------------

bool valid_event_type(std::string_view type) {
  if (type.empty() || type.size() > 64) return false;
  for (char ch : type)
    if (!((ch >= 'a' && ch <= 'z') || ch == '_')) return false;
  return true;
}

// The shortest text that reads back as the same double, so "10" and "10.00" are one amount.
std::string canonical_amount(double amount) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, amount);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(amount);
}

class EventSink final {
 public:
  // Each row needs lookups in the store to be checked: only its cells are read ahead.
  using Prepared = std::vector<std::string>;

  EventSink(const store::Database& db, util::UnixTime now) : db_(db), contacts_(db), events_(db), now_(now) {}

  std::optional<std::string> accept_header(const Columns& columns) {
    auto email = columns.find("email");
    auto type = columns.find("type");
    if (!email) return std::string("no 'email' column");
    if (!type) return std::string("no 'type' column");
    email_ = *email;
    type_ = *type;
    amount_ = columns.find("amount");
    at_ = columns.find("at");
    for (std::size_t i = 0; i < columns.names.size(); ++i)
      if (i != email_ && i != type_ && i != amount_ && i != at_) extra_.emplace_back(i, columns.names[i]);
    return std::nullopt;
  }

  void prepare(std::vector<std::string>& fields, Prepared& out) const { out.swap(fields); }
  Result<Batching> begin() { return Batching::batches; }
  Status finish() { return {}; }

  Result<Outcome> write_row(const std::vector<std::string>& fields) {
    auto email = email_cell(fields[email_]);
    if (!email) return Outcome{email.error()};
    std::string type = util::to_lower(util::trim(fields[type_]));
    if (type.empty()) return Outcome{"missing type"};
    if (!valid_event_type(type)) return Outcome{"invalid type " + cell_text(fields[type_]) + " (letters and _ only)"};

    store::Event e;
    e.kind = type;
    std::string amount_key, at_key;
    if (amount_) {
      if (auto cell = util::trim(fields[*amount_]); !cell.empty()) {
        double amount = 0;
        if (!util::parse_double(cell, amount)) return Outcome{"amount " + cell_text(cell) + " is not a number"};
        e.amount = amount;
        amount_key = canonical_amount(amount);
      }
    }
    e.at = now_;
    if (at_) {
      if (auto cell = util::trim(fields[*at_]); !cell.empty()) {
        auto at = util::parse_iso8601(cell);
        if (!at) return Outcome{"time " + cell_text(cell) + " is not ISO-8601 (e.g. 2026-03-01T09:00:00Z)"};
        e.at = *at;
        at_key = std::to_string(*at);
      }
    }
    auto id = contacts_.id_for_email(*email);
    if (!id) return std::unexpected(id.error());
    if (!*id) return Outcome{"no contact " + cell_text(*email) + " (import contacts first)"};
    e.contact_id = **id;
    e.data = {{"source", "import"}};
    for (const auto& [i, name] : extra_)
      if (auto cell = util::trim(fields[i]); !cell.empty()) e.data[name] = attribute_value(cell);
    e.provider_event_id = "import:" + util::sha256_hex(*email + "|" + type + "|" + amount_key + "|" + at_key);

    auto added = events_.insert_if_new(e);
    if (!added) return std::unexpected(added.error());
    if (*added && type == "purchase") {
      auto credited = tracking::attribute_purchase(db_, **id, e.at, e.amount, *e.provider_event_id);
      if (!credited) return std::unexpected(credited.error());
    }
    return Outcome{std::nullopt, !*added};
  }

 private:
  const store::Database& db_;
  store::ContactRepository contacts_;
  store::EventRepository events_;
  util::UnixTime now_;
  std::size_t email_ = 0, type_ = 0;
  std::optional<std::size_t> amount_, at_;
  std::vector<std::pair<std::size_t, std::string>> extra_;
};

}  // namespace

// ---- public entry points ---------------------------------------------------------------------

nlohmann::json attribute_value(std::string_view cell) {
  if (is_json_number(cell)) {
    long long i = 0;
    if (cell.find_first_of(".eE") == std::string_view::npos && util::parse_int(cell, i)) return i;
    double d = 0;
    if (util::parse_double(cell, d)) return d;
  }
  return std::string(cell);
}

void append_json_string(std::string& out, std::string_view text) {
  if (!util::is_valid_utf8(text)) {
    // Never from a CSV cell (the reader rejects those): nlohmann's own replacement rules.
    out += nlohmann::json(std::string(text)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return;
  }
  out += '"';
  for (char ch : text) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out += kHex[(ch >> 4) & 0xF];
          out += kHex[ch & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_attribute_json(std::string& out, std::string_view cell) {
  if (is_json_number(cell)) {
    long long i = 0;
    if (cell.find_first_of(".eE") == std::string_view::npos && util::parse_int(cell, i)) {
      char buf[24];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, i);
      out.append(buf, end);
      return;
    }
    // Doubles are rare in a contacts file: nlohmann's own shortest form, as attrs had it.
    double d = 0;
    if (util::parse_double(cell, d)) {
      out += nlohmann::json(d).dump();
      return;
    }
  }
  append_json_string(out, cell);
}

bool is_json_number(std::string_view s) {
  std::size_t i = 0, n = s.size();
  auto digits = [&] {
    std::size_t from = i;
    while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < n && s[i] == '-') ++i;
  if (i < n && s[i] == '0') {
    ++i;
  } else if (i >= n || s[i] < '1' || s[i] > '9' || !digits()) {
    return false;
  }
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

Result<ImportReport> import_contacts(const std::string& db_path, const std::string& csv_path, std::ostream& progress,
                                     bool show_progress, util::UnixTime now) {
  Importer importer(csv_path, progress, show_progress);
  return importer.run(db_path, [&](const store::Database& db) -> Result<std::unique_ptr<ContactSink>> {
    auto suppressed = store::SuppressionRepository(db).all_keys();
    if (!suppressed) return std::unexpected(suppressed.error());
    // A bulk load builds its indexes with SQLite's sorter, which with temp_store = MEMORY (every
    // connection's setting, for the statement journals of the analytics triggers) sorts in one
    // run, three times slower than in runs spilled to temporary files. Contacts fire no
    // triggers, and the row-by-row path measured no slower without it.
    if (!db.is_postgresql()) (void)db.exec("PRAGMA temp_store = FILE");
    return std::make_unique<ContactSink>(db, std::move(*suppressed), now, store::BulkLoadJournal::begin(db));
  });
}

Result<ImportReport> import_events(const std::string& db_path, const std::string& csv_path, std::ostream& progress,
                                   bool show_progress, util::UnixTime now) {
  Importer importer(csv_path, progress, show_progress);
  return importer.run(db_path, [&](const store::Database& db) -> Result<std::unique_ptr<EventSink>> {
    return std::make_unique<EventSink>(db, now);
  });
}

void print_import_report(const ImportReport& report, std::string_view noun, std::ostream& out, std::ostream& errors) {
  std::size_t shown = std::min(report.errors.size(), kMaxPrintedErrors);
  for (std::size_t i = 0; i < shown; ++i) errors << report.errors[i] << "\n";
  long total_errors = std::max<long>(report.skipped, static_cast<long>(report.errors.size()));
  if (total_errors > static_cast<long>(shown))
    errors << "... and " << with_thousands(total_errors - static_cast<long>(shown)) << " more\n";
  if (report.file_rejected) return;

  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f", report.seconds);
  out << "imported " << with_thousands(report.imported) << " " << noun;
  if (report.duplicates > 0) out << " (" << with_thousands(report.duplicates) << " already imported before)";
  out << ", skipped " << with_thousands(report.skipped) << " rows" << (report.skipped > 0 ? " (see errors above)" : "")
      << " in " << seconds << " s";
  if (report.seconds > 0 && report.rows > 0)
    out << " (" << short_rate(static_cast<double>(report.rows) / report.seconds) << " rows/s)";
  out << "\n";
}

// `campaignd import contacts|events FILE.csv [--quiet]`: exit 0 when every row was imported,
// 1 when rows were skipped or the file was rejected, 2 when the store failed.
int cmd_import(const Args& args) {
  if (args.positional.size() != 2 || (args.positional[0] != "contacts" && args.positional[0] != "events")) {
    std::cerr << "usage: campaignd import contacts|events FILE.csv [--quiet] [--config FILE]\n";
    return Exit::user_error;
  }
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  const bool contacts = args.positional[0] == "contacts";
  const std::string& file = args.positional[1];
  const bool show_progress = !args.flag("--quiet") && ::isatty(STDERR_FILENO) == 1;
  util::SystemClock clock;
  auto report = contacts ? import_contacts(cfg->store_target(), file, std::cerr, show_progress, clock.now())
                         : import_events(cfg->store_target(), file, std::cerr, show_progress, clock.now());
  if (!report) {
    std::cerr << "campaignd import: " << report.error() << "\n";
    return Exit::internal_error;
  }
  print_import_report(*report, contacts ? "contacts" : "events", std::cout, std::cerr);
  return report->file_rejected || report->skipped > 0 ? Exit::user_error : Exit::ok;
}

}  // namespace campaignd::cli
