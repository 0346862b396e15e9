// SQL for the enrollments table.
#include "daemon/automation/enrollment_repository.hpp"

namespace campaignd::automation {

namespace {

constexpr const char* kColumns =
    "id, automation, contact_id, state, step, due_at, entered_at, finished_at, exit_reason, trigger_event, context";

Enrollment read_row(const store::Statement& s) {
  Enrollment e;
  e.id = s.column_int(0);
  e.automation = s.column_text(1);
  e.contact_id = s.column_int(2);
  e.state = s.column_text(3);
  e.step = static_cast<int>(s.column_int(4));
  e.due_at = s.column_int(5);
  e.entered_at = s.column_int(6);
  if (!s.column_is_null(7)) e.finished_at = s.column_int(7);
  e.exit_reason = s.column_optional_text(8);
  if (!s.column_is_null(9)) e.trigger_event = s.column_int(9);
  auto ctx = nlohmann::json::parse(s.column_text(10), nullptr, false);
  if (ctx.is_object()) e.context = std::move(ctx);
  return e;
}

Result<std::vector<Enrollment>> read_all(store::Statement& s) {
  std::vector<Enrollment> out;
  while (true) {
    auto row = s.step();
    if (!row) {
      s.reset();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    out.push_back(read_row(s));
  }
  s.reset();
  return out;
}

Result<std::optional<Enrollment>> read_one(store::Statement& s) {
  auto rows = read_all(s);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::optional<Enrollment>();
  return std::optional<Enrollment>(rows->front());
}

}  // namespace

Result<std::optional<std::int64_t>> EnrollmentRepository::enroll(const std::string& automation,
                                                                  std::int64_t contact_id, util::UnixTime due_at,
                                                                  util::UnixTime now,
                                                                  std::optional<std::int64_t> trigger_event,
                                                                  const nlohmann::json& context) {
  // DO NOTHING: the partial unique index refuses a second active enrollment (no row, no id).
  auto stmt = db_.cached(
      "INSERT INTO enrollments (automation, contact_id, state, step, due_at, entered_at, trigger_event, "
      "context) VALUES (?1, ?2, 'active', 0, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING RETURNING id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, automation).bind(2, contact_id).bind(3, due_at).bind(4, now).bind(5, trigger_event)
      .bind(6, context.dump());
  return (*stmt)->single_int();
}

Result<std::vector<Enrollment>> EnrollmentRepository::due(const std::vector<std::string>& automations,
                                                          util::UnixTime now, int limit) {
  // ?2 is the names as a JSON array.
  auto stmt = db_.cached(std::string("SELECT ") + kColumns +
                         " FROM enrollments WHERE state = 'active' AND due_at <= ?1 AND automation IN " +
                         std::string(db_.sql("(SELECT value FROM json_each(?2))",
                                             "(SELECT jsonb_array_elements_text(?2::jsonb))")) +
                         " ORDER BY due_at, id LIMIT ?3");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, now).bind(2, nlohmann::json(automations).dump()).bind(3, limit);
  return read_all(**stmt);
}

Result<std::vector<Enrollment>> EnrollmentRepository::active_for_contact(std::int64_t contact_id) {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns +
                         " FROM enrollments WHERE contact_id = ? AND state = 'active' ORDER BY id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id);
  return read_all(**stmt);
}

Result<std::optional<Enrollment>> EnrollmentRepository::find(std::int64_t id) {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns + " FROM enrollments WHERE id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, id);
  return read_one(**stmt);
}

Result<std::optional<Enrollment>> EnrollmentRepository::latest(const std::string& automation,
                                                               std::int64_t contact_id) {
  auto stmt = db_.cached(std::string("SELECT ") + kColumns +
                         " FROM enrollments WHERE automation = ? AND contact_id = ? ORDER BY id DESC LIMIT 1");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, automation).bind(2, contact_id);
  return read_one(**stmt);
}

Status EnrollmentRepository::advance(std::int64_t id, int next_step, util::UnixTime due_at) {
  auto stmt = db_.cached("UPDATE enrollments SET step = ?2, due_at = ?3 WHERE id = ?1 AND state = 'active'");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, next_step).bind(3, due_at).run();
}

Status EnrollmentRepository::complete(std::int64_t id, int steps_done, util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE enrollments SET state = 'completed', step = ?3, finished_at = ?2 WHERE id = ?1 AND state = 'active'");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, now).bind(3, steps_done).run();
}

Status EnrollmentRepository::exit(std::int64_t id, const std::string& reason, util::UnixTime now) {
  auto stmt = db_.cached(
      "UPDATE enrollments SET state = 'exited', finished_at = ?2, exit_reason = ?3 WHERE id = ?1 AND state = 'active'");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, id).bind(2, now).bind(3, reason).run();
}

Result<int> EnrollmentRepository::exit_unmatched(const std::string& automation, const std::string& where_sql,
                                                 const std::vector<store::SqlValue>& params,
                                                 const std::string& reason, util::UnixTime now) {
  // Plain `?`s only: the segment's own parameters are numbered after ours.
  auto stmt = db_.prepare(
      "UPDATE enrollments SET state = 'exited', finished_at = ?, exit_reason = ? "
      "WHERE automation = ? AND state = 'active' AND contact_id NOT IN (SELECT c.id FROM contacts c WHERE (" +
      where_sql + "))");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(1, now).bind(2, reason).bind(3, automation).bind_all(params, 4);
  if (auto s = stmt->run(); !s) return std::unexpected(s.error());
  return db_.changes();
}

Result<int> EnrollmentRepository::mark_members(const std::string& automation, const std::string& where_sql,
                                               const std::vector<store::SqlValue>& params, util::UnixTime now) {
  auto stmt = db_.prepare(
      "INSERT INTO enrollments (automation, contact_id, state, step, due_at, entered_at, finished_at, exit_reason) "
      "SELECT ?, c.id, 'exited', 0, ?, ?, ?, ? FROM contacts c WHERE (" +
      where_sql + ") AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.automation = ? AND e.contact_id = c.id)");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(1, automation).bind(2, now).bind(3, now).bind(4, now).bind(5, kMemberAtStart);
  stmt->bind_all(params, 6);
  stmt->bind(6 + static_cast<int>(params.size()), automation);
  if (auto s = stmt->run(); !s) return std::unexpected(s.error());
  return db_.changes();
}

Result<EnrollmentCounts> EnrollmentRepository::counts(const std::string& automation) {
  auto stmt = db_.cached(
      "SELECT state, COUNT(*) FROM enrollments WHERE automation = ? AND COALESCE(exit_reason, '') != ? "
      "GROUP BY state");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, automation).bind(2, kMemberAtStart);
  EnrollmentCounts c;
  auto r = (*stmt)->each([&](const store::Statement& row) {
    std::string state = row.column_text(0);
    std::int64_t n = row.column_int(1);
    if (state == "active") c.active = n;
    else if (state == "completed") c.completed = n;
    else if (state == "exited") c.exited = n;
  });
  if (!r) return std::unexpected(r.error());
  c.enrolled = c.active + c.completed + c.exited;
  return c;
}

}  // namespace campaignd::automation
