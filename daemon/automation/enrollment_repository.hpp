// The enrollments table: each contact's place in an automation (the durable timer).
// One active enrollment per automation and contact (a partial unique index holds it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::automation {

struct Enrollment {
  std::int64_t id = 0;
  std::string automation;
  std::int64_t contact_id = 0;
  std::string state;  // active | completed | exited
  int step = 0;       // the next step to send, 0-based
  util::UnixTime due_at = 0;
  util::UnixTime entered_at = 0;
  std::optional<util::UnixTime> finished_at;
  std::optional<std::string> exit_reason;
  std::optional<std::int64_t> trigger_event;
  nlohmann::json context = nlohmann::json::object();
};

struct EnrollmentCounts {
  std::int64_t enrolled = 0, active = 0, completed = 0, exited = 0;
};

// Why a contact was marked without being enrolled: a member of a joined_segment automation's
// segment when it was first loaded. Such rows block enrollment and are left out of the counts.
inline constexpr const char* kMemberAtStart = "member_at_start";

// Statements are prepared once per connection (Database::cached). One thread at a time.
class EnrollmentRepository {
 public:
  explicit EnrollmentRepository(const store::Database& db) : db_(db) {}

  // A new active enrollment at step 0; nullopt when the contact is already active in it.
  Result<std::optional<std::int64_t>> enroll(const std::string& automation, std::int64_t contact_id,
                                             util::UnixTime due_at, util::UnixTime now,
                                             std::optional<std::int64_t> trigger_event, const nlohmann::json& context);
  // Active enrollments of the named automations due by `now`, earliest first.
  Result<std::vector<Enrollment>> due(const std::vector<std::string>& automations, util::UnixTime now, int limit);
  Result<std::vector<Enrollment>> active_for_contact(std::int64_t contact_id);
  Result<std::optional<Enrollment>> find(std::int64_t id);
  // The most recent enrollment of the contact in the automation, whatever its state.
  Result<std::optional<Enrollment>> latest(const std::string& automation, std::int64_t contact_id);

  Status advance(std::int64_t id, int next_step, util::UnixTime due_at);
  // `steps_done`: how many steps the contact went through (the step column's final value).
  Status complete(std::int64_t id, int steps_done, util::UnixTime now);
  Status exit(std::int64_t id, const std::string& reason, util::UnixTime now);
  // Exits every active enrollment of `automation` whose contact is not matched by `where_sql`
  // (a condition over contacts `c`); returns how many.
  Result<int> exit_unmatched(const std::string& automation, const std::string& where_sql,
                             const std::vector<store::SqlValue>& params, const std::string& reason,
                             util::UnixTime now);
  // Marks every contact matched by `where_sql` that has no enrollment yet as kMemberAtStart.
  Result<int> mark_members(const std::string& automation, const std::string& where_sql,
                           const std::vector<store::SqlValue>& params, util::UnixTime now);

  Result<EnrollmentCounts> counts(const std::string& automation);

 private:
  const store::Database& db_;
};

}  // namespace campaignd::automation
