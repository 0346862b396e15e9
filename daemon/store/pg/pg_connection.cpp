#include "daemon/store/pg/pg_connection.hpp"

#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "daemon/store/pg/placeholders.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::store::pg {

namespace {

// Type OIDs from the server's catalog (pg_type.dat); stable across versions.
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700, kFloat8 = 701,
              kNumeric = 1700;

void quiet_notices(void*, const char* message) {
  // "relation … already exists, skipping" and the like: not worth a line on stderr.
  spdlog::debug("postgresql: {}", message);
}

std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

// ---- URLs and error texts ----

std::string redact_url(std::string_view url) {
  std::string out;
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "(not a URL)";
  size_t authority_end = url.find_first_of("/?#", scheme + 3);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  std::string_view authority = url.substr(scheme + 3, authority_end - scheme - 3);
  out.append(url.substr(0, scheme + 3));
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    size_t colon = userinfo.find(':');
    out.append(userinfo.substr(0, colon));
    if (colon != std::string_view::npos) out.append(":***");
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  // Query parameters: every password=… value.
  std::string_view rest = url.substr(authority_end);
  size_t q = rest.find('?');
  out.append(rest.substr(0, q));
  if (q == std::string_view::npos) return out;
  std::string_view query = rest.substr(q + 1);
  out += '?';
  while (true) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (eq != std::string_view::npos && (key == "password" || key == "sslpassword")) {
      out.append(key);
      out.append("=***");
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    out += '&';
    query.remove_prefix(amp + 1);
  }
  return out;
}

std::string sqlstate_of(std::string_view error) {
  constexpr std::string_view prefix = "postgresql ";
  size_t at = error.find(prefix);
  if (at == std::string_view::npos || at + prefix.size() + 6 > error.size()) return "";
  std::string_view code = error.substr(at + prefix.size(), 5);
  if (error[at + prefix.size() + 5] != ':') return "";
  for (char c : code)
    if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z'))) return "";
  return std::string(code);
}

// ---- PgResult ----

std::int64_t PgResult::affected() const {
  const char* n = res_ ? PQcmdTuples(res_.get()) : "";
  std::int64_t v = 0;
  std::from_chars(n, n + std::char_traits<char>::length(n), v);
  return v;
}

std::int64_t PgResult::int64(int row, int col) const {
  if (is_null(row, col)) return 0;
  const char* p = PQgetvalue(res_.get(), row, col);
  int len = PQgetlength(res_.get(), row, col);
  Oid type = PQftype(res_.get(), col);
  if (type == kBool) return p[0] == 't' ? 1 : 0;
  if (type == kFloat4 || type == kFloat8 || type == kNumeric) return static_cast<std::int64_t>(float64(row, col));
  std::int64_t v = 0;
  std::from_chars(p, p + len, v);
  return v;
}

double PgResult::float64(int row, int col) const {
  if (is_null(row, col)) return 0.0;
  const char* p = PQgetvalue(res_.get(), row, col);
  if (PQftype(res_.get(), col) == kBool) return p[0] == 't' ? 1.0 : 0.0;
  // strtod, not from_chars: it also reads "Infinity" and "NaN" as the server writes them.
  return std::strtod(p, nullptr);
}

std::string PgResult::text(int row, int col) const {
  if (is_null(row, col)) return {};
  return std::string(PQgetvalue(res_.get(), row, col), static_cast<size_t>(PQgetlength(res_.get(), row, col)));
}

std::optional<std::string> PgResult::optional_text(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return text(row, col);
}

std::optional<std::int64_t> PgResult::optional_int64(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return int64(row, col);
}

SqlValue PgResult::value(int row, int col) const {
  if (is_null(row, col)) return nullptr;
  switch (PQftype(res_.get(), col)) {
    case kBool:
    case kInt2:
    case kInt4:
    case kInt8:
    case kOid: return int64(row, col);
    case kFloat4:
    case kFloat8:
    case kNumeric: return float64(row, col);
    default: return text(row, col);
  }
}

// ---- PgStatement ----

PgStatement::PgStatement(PgConnection& conn, std::string name, std::string sql, int parameters)
    : conn_(&conn),
      name_(std::move(name)),
      sql_(std::move(sql)),
      values_(static_cast<size_t>(parameters)),
      bound_(static_cast<size_t>(parameters), false) {}

PgStatement& PgStatement::set(int index, std::optional<std::string> v) {
  if (index < 1 || index > parameters()) {
    if (!bad_index_) bad_index_ = index;
    return *this;
  }
  values_[static_cast<size_t>(index - 1)] = std::move(v);
  bound_[static_cast<size_t>(index - 1)] = true;
  return *this;
}

PgStatement& PgStatement::bind(int index, double v) {
  if (std::isnan(v)) return set(index, "NaN");
  if (std::isinf(v)) return set(index, v > 0 ? "Infinity" : "-Infinity");
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back exactly
  return set(index, std::string(buf, end));
}

PgStatement& PgStatement::bind(int index, const SqlValue& v) {
  std::visit([&](const auto& x) { bind(index, x); }, v);
  return *this;
}

PgStatement& PgStatement::bind(int index, const std::optional<std::int64_t>& v) {
  return v ? bind(index, *v) : bind(index, nullptr);
}

PgStatement& PgStatement::bind_all(const std::vector<SqlValue>& values, int first_index) {
  for (size_t i = 0; i < values.size(); ++i) bind(first_index + static_cast<int>(i), values[i]);
  return *this;
}

void PgStatement::clear_bindings() {
  for (auto&& b : bound_) b = false;
  for (auto& v : values_) v.reset();
  bad_index_.reset();
}

Result<PgResult> PgStatement::execute() {
  auto clear = [&] { clear_bindings(); };
  if (bad_index_) {
    int bad = *bad_index_;
    clear();
    return fail("postgresql: parameter " + std::to_string(bad) + " is out of range 1.." +
                std::to_string(parameters()) + " in: " + sql_);
  }
  for (size_t i = 0; i < bound_.size(); ++i) {
    if (!bound_[i]) {
      clear();
      return fail("postgresql: parameter " + std::to_string(i + 1) + " not bound in: " + sql_);
    }
  }
  std::vector<const char*> raw(values_.size());
  for (size_t i = 0; i < values_.size(); ++i) raw[i] = values_[i] ? values_[i]->c_str() : nullptr;
  PGresult* res = PQexecPrepared(conn_->handle(), name_.c_str(), parameters(), raw.data(), nullptr, nullptr, 0);
  clear();
  return conn_->check(res, sql_);
}

// ---- PgConnection ----

Result<std::unique_ptr<PgConnection>> PgConnection::connect(const std::string& url) {
  if (!url.starts_with("postgresql://") && !url.starts_with("postgres://"))
    return fail("store URL must start with postgresql:// (got " + redact_url(url) + ")");
  auto conn = std::unique_ptr<PgConnection>(new PgConnection());
  conn->redacted_url_ = redact_url(url);
  // Keywords before "dbname" are defaults that the URL's own parameters override.
  const char* keys[] = {"connect_timeout", "application_name", "client_encoding", "dbname", nullptr};
  const char* values[] = {"10", "campaignd", "UTF8", url.c_str(), nullptr};
  conn->conn_.reset(PQconnectdbParams(keys, values, 1));
  if (!conn->conn_) return fail("cannot connect to " + conn->redacted_url_ + ": out of memory");
  if (const char* pass = PQpass(conn->conn_.get()); pass && *pass) conn->password_ = pass;
  if (conn->password_.empty()) {
    // A URL libpq refused to parse leaves no password to read back: take it from the text.
    size_t scheme = url.find("://") + 3;
    size_t end = url.find_first_of("/?#", scheme);
    std::string authority = url.substr(scheme, end == std::string::npos ? std::string::npos : end - scheme);
    if (size_t at = authority.rfind('@'); at != std::string::npos) {
      if (size_t colon = authority.find(':'); colon < at) conn->password_ = util::percent_decode(authority.substr(colon + 1, at - colon - 1));
    }
  }
  if (PQstatus(conn->conn_.get()) != CONNECTION_OK) {
    std::string message = trim_newline(PQerrorMessage(conn->conn_.get()));
    return fail("cannot connect to " + conn->redacted_url_ + ": " + conn->scrub(message));
  }
  PQsetNoticeProcessor(conn->conn_.get(), quiet_notices, nullptr);
  if (auto s = conn->apply_session_settings(); !s) return std::unexpected(s.error());
  return conn;
}

// A write that waits on a lock another session holds (a manual LOCK TABLE, a stuck transaction)
// fails after 10 s, as SQLite's busy timeout does, instead of stalling the node without a word:
// the caller sees the error (sending pauses, /status says why) and tries again.
Status PgConnection::apply_session_settings() { return exec("SET lock_timeout = '10s'"); }

std::string PgConnection::scrub(std::string text) const {
  if (password_.size() < 2) return text;  // a one-letter password would blank the message
  for (size_t at = text.find(password_); at != std::string::npos; at = text.find(password_, at + 3))
    text.replace(at, password_.size(), "***");
  return text;
}

Result<PgResult> PgConnection::check(PGresult* raw, std::string_view what) {
  PgResult res(raw);
  ExecStatusType status = raw ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY) {
    last_sqlstate_.clear();
    return res;
  }
  const char* state = raw ? PQresultErrorField(raw, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = raw ? PQresultErrorField(raw, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  const char* detail = raw ? PQresultErrorField(raw, PG_DIAG_MESSAGE_DETAIL) : nullptr;
  // A client-side failure (lost connection) has no SQLSTATE: 08006 is "connection failure".
  last_sqlstate_ = state ? state : (PQstatus(conn_.get()) == CONNECTION_BAD ? "08006" : "");
  std::string message = primary ? primary : trim_newline(PQerrorMessage(conn_.get()));
  if (detail) message += std::string(" (") + detail + ")";
  std::string head = "postgresql" + (last_sqlstate_.empty() ? std::string() : " " + last_sqlstate_) + ": ";
  std::string context(what.substr(0, 200));
  return fail(scrub(head + message + (context.empty() ? "" : " [in: " + context + "]")));
}

Status PgConnection::reconnect_if_lost() {
  if (PQstatus(conn_.get()) != CONNECTION_BAD) return {};
  PQreset(conn_.get());
  cache_.clear();
  if (PQstatus(conn_.get()) != CONNECTION_OK)
    return fail("lost connection to " + redacted_url_ + ": " + scrub(trim_newline(PQerrorMessage(conn_.get()))));
  PQsetNoticeProcessor(conn_.get(), quiet_notices, nullptr);
  if (auto s = apply_session_settings(); !s) return s;
  spdlog::warn("postgresql: reconnected to {}", redacted_url_);
  return {};
}

bool PgConnection::in_transaction() const {
  return PQtransactionStatus(conn_.get()) != PQTRANS_IDLE;
}

Status PgConnection::exec(std::string_view sql) {
  std::string text(sql);
  auto r = check(PQexec(conn_.get(), text.c_str()), "");
  if (!r) return std::unexpected(r.error());
  return {};
}

Result<PgResult> PgConnection::query(std::string_view sql, const std::vector<SqlValue>& params) {
  auto translated = translate_placeholders(sql);
  if (!translated) return std::unexpected(translated.error());
  if (static_cast<size_t>(translated->parameters) != params.size())
    return fail("postgresql: " + std::to_string(params.size()) + " values for " +
                std::to_string(translated->parameters) + " parameters in: " + translated->sql);
  // Reuse PgStatement's conversions on an unnamed statement: one round trip, no name kept.
  PgStatement stmt(*this, "", translated->sql, translated->parameters);
  stmt.bind_all(params);
  std::vector<const char*> raw(stmt.values_.size());
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = stmt.values_[i] ? stmt.values_[i]->c_str() : nullptr;
  return check(PQexecParams(conn_.get(), translated->sql.c_str(), stmt.parameters(), nullptr, raw.data(), nullptr,
                            nullptr, 0),
               translated->sql);
}

Result<PgStatement*> PgConnection::cached(std::string_view sql) {
  std::string key(sql);
  if (auto it = cache_.find(key); it != cache_.end()) return it->second.get();
  auto translated = translate_placeholders(sql);
  if (!translated) return std::unexpected(translated.error());
  std::string name = "campaignd_" + std::to_string(++next_statement_);
  auto prepared = check(PQprepare(conn_.get(), name.c_str(), translated->sql.c_str(), 0, nullptr), translated->sql);
  if (!prepared) return std::unexpected(prepared.error());
  auto stmt = std::unique_ptr<PgStatement>(new PgStatement(*this, name, translated->sql, translated->parameters));
  return cache_.emplace(std::move(key), std::move(stmt)).first->second.get();
}

// ---- PgTransaction ----

PgTransaction::PgTransaction(PgConnection& conn, std::string_view begin) : conn_(conn), begun_(conn.exec(begin)) {
  open_ = begun_.has_value();
}

PgTransaction::~PgTransaction() {
  if (open_) (void)conn_.exec("ROLLBACK");
}

Status PgTransaction::commit() {
  if (!open_) return fail("transaction not open");
  open_ = false;  // COMMIT ends the transaction even when it fails (it rolls back)
  return conn_.exec("COMMIT");
}

}  // namespace campaignd::store::pg
