// The automation engine: loading, event-driven enrollment and exits, durable step timers,
// periodic triggers, and the per-step report.
#include "daemon/automation/automation_engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>

#include "daemon/automation/automation_loader.hpp"
#include "daemon/automation/autoreply_repository.hpp"
#include "daemon/automation/cursor_repository.hpp"
#include "daemon/automation/enrollment_repository.hpp"
#include "daemon/automation/local_time.hpp"
#include "daemon/automation/reply_policy.hpp"
#include "daemon/automation/step_sends.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::automation {

namespace {

// ---------------------------------------------------------------------------------------------
// Loading

std::string step_definition_json(const Automation& a, std::size_t index) {
  const Step& s = a.steps[index];
  nlohmann::json j = {{"automation", a.name},
                      {"step", index + 1},
                      {"file", a.file},
                      {"trigger", to_string(a.trigger.kind)},
                      {"from", a.from.address},
                      {"subject", s.subject},
                      {"template", s.template_name},
                      {"after_s", s.after_seconds},
                      {"fingerprint", a.fingerprint},
                      {"tracking", a.track}};
  if (a.reply_to) j["reply_to"] = a.reply_to->address;
  if (a.topic) j["topic"] = *a.topic;
  return j.dump();
}

campaigns::Campaign step_campaign(const Automation& a, std::size_t index) {
  const Step& s = a.steps[index];
  campaigns::Campaign c;
  c.kind = campaigns::CampaignKind::marketing;
  c.name = a.step_campaign_name(index);
  c.file = a.file;
  c.from = a.from;
  c.reply_to = a.reply_to;
  c.subject = s.subject;
  c.template_name = s.template_name;
  c.template_place = s.template_place;
  c.segment = "all";  // the automation, not a segment, chooses who gets a step
  c.topic = a.topic;
  c.track = a.track;
  c.fingerprint = a.fingerprint;
  return c;
}

// ---------------------------------------------------------------------------------------------
// Events

// The exit reason an event means, if any. Opt-outs end every enrollment; the rest only those
// whose exit_on names them.
std::optional<std::string> exit_reason_for(const store::Event& e, const Automation& a) {
  if (e.machine) return std::nullopt;
  if (e.kind == "unsubscribed") return std::string("unsubscribed");
  if (e.kind == "complained") return std::string("complained");
  std::string reason;
  if (e.kind == "purchase" || e.kind == "converted") reason = "purchased";
  else if (e.kind == "replied") reason = "replied";
  else if (e.kind == "clicked") reason = "clicked";
  else if (e.kind == "opened") reason = "opened";
  else if (e.kind == "bounced") reason = "bounced";
  else return std::nullopt;
  if (!a.exit_on.contains(reason)) return std::nullopt;
  return reason;
}

bool event_matches_trigger(const store::Event& e, const Automation& a, const std::vector<std::int64_t>& own_campaigns) {
  if (e.machine || !e.contact_id) return false;
  // Opens and clicks of the automation's own mail would enrol its readers again and again.
  if (e.campaign_id && std::find(own_campaigns.begin(), own_campaigns.end(), *e.campaign_id) != own_campaigns.end())
    return false;
  const Trigger& t = a.trigger;
  switch (t.kind) {
    case TriggerKind::subscribed: return e.kind == "subscribed";
    case TriggerKind::replied: return e.kind == "replied";
    case TriggerKind::opened: return e.kind == "opened";
    case TriggerKind::purchased: return e.kind == "purchase" || e.kind == "converted";
    case TriggerKind::clicked: {
      if (e.kind != "clicked") return false;
      if (t.arg.empty()) return true;
      auto url = e.data.find("url");
      return url != e.data.end() && url->is_string() && url->get<std::string>() == t.arg;
    }
    case TriggerKind::tag_added: {
      if (e.kind != "tag_added") return false;
      auto tag = e.data.find("tag");
      return tag != e.data.end() && tag->is_string() && tag->get<std::string>() == t.arg;
    }
    case TriggerKind::joined_segment:
    case TriggerKind::date: return false;  // periodic
  }
  return false;
}

util::UnixTime due_time(const Step& step, util::UnixTime base, const nlohmann::json& attrs) {
  util::UnixTime t = base + step.after_seconds;
  if (step.at_minute_of_day) t = next_local_time(t, *step.at_minute_of_day, attrs);
  return t;
}

// Whether the contact satisfies `segment` (a condition over contacts `c`).
Result<bool> contact_matches(const store::Database& db, std::int64_t contact_id,
                             const segments::CompiledSegment& segment) {
  auto stmt = db.cached("SELECT 1 FROM contacts c WHERE c.id = ? AND (" + segment.where_sql + ")");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id).bind_all(segment.params, 2);
  auto row = (*stmt)->step();
  (*stmt)->reset();
  if (!row) return std::unexpected(row.error());
  return *row;
}

// A tag_added automation's membership test, written directly so no tag text is ever parsed.
segments::CompiledSegment has_tag(const std::string& tag) {
  return {"EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = ?)", {tag}};
}

}  // namespace

AutomationEngine::AutomationEngine(store::Store& store, const util::Clock& clock, AutomationSettings settings)
    : store_(store), clock_(clock), settings_(std::move(settings)) {}

std::vector<AutomationEngine::LoadedPtr> AutomationEngine::snapshot() const {
  std::lock_guard lock(mutex_);
  return automations_;
}

std::vector<std::string> AutomationEngine::names() const {
  std::vector<std::string> out;
  for (const auto& a : snapshot()) out.push_back(a->automation.name);
  return out;
}

std::map<std::int64_t, campaigns::PreparedCampaignPtr> AutomationEngine::prepared() const {
  std::map<std::int64_t, campaigns::PreparedCampaignPtr> out;
  for (const auto& a : snapshot())
    for (const auto& step : a->steps) out[step->id] = step;
  return out;
}

// =============================================================================================
// reload

Status AutomationEngine::reload(const std::vector<std::string>& automation_files, std::vector<PlacedError>& errors) {
  return reload(automation_files, {settings_.templates_dir, settings_.rules_dir}, campaigns::LoadRole::leader, errors);
}

Status AutomationEngine::reload(const std::vector<std::string>& automation_files, const campaigns::LoaderPaths& paths,
                                campaigns::LoadRole role, std::vector<PlacedError>& errors) {
  const bool follower = role == campaigns::LoadRole::follower;
  util::UnixTime now = clock_.now();
  std::vector<PlacedError> rule_errors;  // rule files are reported by the campaign loader
  auto rules = segments::RuleBook::load(paths.rules_dir, rule_errors);
  if (!rules) {
    errors.push_back({{paths.rules_dir, 0, 0}, rules.error()});
    return {};
  }
  std::vector<CheckedAutomation> checked;
  std::map<std::string, std::string> seen;  // name -> file
  for (const auto& file : automation_files) {
    auto loaded = load_automation(file, paths.templates_dir, *rules, now);
    if (!loaded) {
      errors.insert(errors.end(), loaded.error().begin(), loaded.error().end());
      continue;
    }
    const std::string& name = loaded->automation.name;
    if (auto it = seen.find(name); it != seen.end()) {
      errors.push_back({{file, 1, 1}, "automation name '" + name + "' is already used by " + it->second});
      continue;
    }
    seen[name] = file;
    checked.push_back(std::move(*loaded));
  }

  std::vector<LoadedPtr> loaded;
  std::set<std::int64_t> present;
  for (auto& c : checked) {
    auto entry = std::make_shared<Loaded>();
    entry->automation = std::move(c.automation);
    const Automation& a = entry->automation;
    auto s = store_.writer().run([&](const store::Database& db) -> Status {
      entry->step_campaign_ids.clear();
      store::CampaignRepository campaigns(db);
      if (follower) {
        // The leader's rows, read only; an automation it has not recorded yet waits for the next copy.
        for (std::size_t i = 0; i < a.steps.size(); ++i) {
          auto row = campaigns.find(a.step_campaign_name(i));
          if (!row) return std::unexpected(row.error());
          if (!*row) {
            entry->step_campaign_ids.clear();
            return {};
          }
          entry->step_campaign_ids.push_back((*row)->id);
        }
        return {};
      }
      for (std::size_t i = 0; i < a.steps.size(); ++i) {
        auto row = campaigns.upsert(a.step_campaign_name(i), a.file, step_definition_json(a, i), now, now);
        if (!row) return std::unexpected(row.error());
        if (row->state != "running") {
          if (row->started_at) {
            if (auto r = campaigns.set_state(row->id, "running", now); !r) return r;
          } else if (auto r = campaigns.mark_started(row->id, 0, now); !r) {
            return r;
          }
        }
        entry->step_campaign_ids.push_back(row->id);
      }
      auto last = last_event_id(db);
      if (!last) return std::unexpected(last.error());
      return CursorRepository(db).create(a.name, *last);
    });
    if (!s) return s;
    if (entry->step_campaign_ids.size() != a.steps.size()) continue;
    for (std::size_t i = 0; i < a.steps.size(); ++i) {
      std::int64_t id = entry->step_campaign_ids[i];
      present.insert(id);
      entry->steps.push_back(std::make_shared<const campaigns::PreparedCampaign>(id, step_campaign(a, i),
                                                                                std::move(c.step_templates[i])));
    }
    loaded.push_back(std::move(entry));
  }

  // Steps of automations that went away (or no longer have that step) pause; their queued
  // sends wait, as a removed campaign's do.
  auto s = follower ? Status{} : store_.writer().run([&](const store::Database& db) -> Status {
    store::CampaignRepository campaigns(db);
    auto rows = campaigns.list();
    if (!rows) return std::unexpected(rows.error());
    for (const auto& row : *rows)
      if (row.name.find('#') != std::string::npos && row.state == "running" && !present.contains(row.id))
        if (auto r = campaigns.set_state(row.id, "paused", now); !r) return r;
    return {};
  });
  if (!s) return s;

  std::set<std::string> before;
  for (const auto& a : snapshot()) before.insert(a->automation.name + "\n" + a->automation.fingerprint);
  for (const auto& a : loaded)
    if (!before.contains(a->automation.name + "\n" + a->automation.fingerprint))
      spdlog::info("automation {} loaded from {}: trigger {}, {} steps", a->automation.name, a->automation.file,
                   to_string(a->automation.trigger.kind), a->automation.steps.size());
  rules_ = std::move(*rules);
  last_periodic_.reset();  // evaluate new periodic triggers at once
  std::lock_guard lock(mutex_);
  automations_ = std::move(loaded);
  return {};
}

// =============================================================================================
// tick

Result<int> AutomationEngine::tick() {
  int work = 0;
  for (bool more = true; more;) {
    auto n = process_events(more);
    if (!n) return n;
    work += *n;
  }
  if (!last_periodic_ || clock_.now() - *last_periodic_ >= settings_.periodic_seconds) {
    auto n = periodic();
    if (!n) return n;
    work += *n;
    last_periodic_ = clock_.now();
  }
  for (bool more = true; more;) {
    auto n = process_due(more);
    if (!n) return n;
    work += *n;
  }
  return work;
}

Result<int> AutomationEngine::process_events(bool& more) {
  more = false;
  auto automations = snapshot();
  if (automations.empty() || !rules_) return 0;
  util::UnixTime now = clock_.now();
  std::set<std::string> ours = settings_.our_addresses;
  for (const auto& a : automations) {
    ours.insert(util::normalize_address(a->automation.from.address));
    if (a->automation.reply_to) ours.insert(util::normalize_address(a->automation.reply_to->address));
  }
  std::map<std::string, segments::CompiledSegment> conditions;
  for (const auto& a : automations)
    if (a->automation.condition) {
      auto seg = rules_->resolve(*a->automation.condition, now, a->automation.condition_place, store_.dialect());
      if (!seg) return fail(seg.error().to_string());
      conditions[a->automation.name] = std::move(*seg);
    }

  int work = 0;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    work = 0;
    more = false;
    CursorRepository cursors(db);
    EnrollmentRepository enrollments(db);
    AutoreplyRepository autoreplies(db);
    store::ContactRepository contacts(db);
    std::map<std::string, std::int64_t> cursor;
    std::int64_t from = std::numeric_limits<std::int64_t>::max();
    for (const auto& a : automations) {
      auto c = cursors.get(a->automation.name);
      if (!c) return std::unexpected(c.error());
      cursor[a->automation.name] = c->value_or(0);
      from = std::min(from, c->value_or(0));
    }
    auto events = events_after(db, from, settings_.event_batch);
    if (!events) return std::unexpected(events.error());
    more = static_cast<int>(events->size()) == settings_.event_batch;
    for (const store::Event& e : *events) {
      if (!e.contact_id) continue;
      // Exits first, so the event that enrols a contact does not also end that enrollment.
      auto active = enrollments.active_for_contact(*e.contact_id);
      if (!active) return std::unexpected(active.error());
      for (const Enrollment& en : *active) {
        auto it = std::find_if(automations.begin(), automations.end(),
                               [&](const LoadedPtr& a) { return a->automation.name == en.automation; });
        if (it == automations.end() || e.id <= cursor[en.automation] || e.id <= en.trigger_event.value_or(0)) continue;
        if (auto reason = exit_reason_for(e, (*it)->automation)) {
          if (auto r = enrollments.exit(en.id, *reason, now); !r) return r;
          ++work;
        }
      }
      if (e.at < now - settings_.trigger_max_age_seconds) continue;
      std::optional<store::Contact> contact;
      bool contact_read = false;
      for (const auto& a : automations) {
        const Automation& au = a->automation;
        if (e.id <= cursor[au.name] || !event_matches_trigger(e, au, a->step_campaign_ids)) continue;
        if (!contact_read) {
          auto c = contacts.find_by_id(*e.contact_id);
          if (!c) return std::unexpected(c.error());
          contact = *c;
          contact_read = true;
        }
        if (!contact || contact->status != "subscribed") continue;
        if (auto it = conditions.find(au.name); it != conditions.end()) {
          auto ok = contact_matches(db, contact->id, it->second);
          if (!ok) return std::unexpected(ok.error());
          if (!*ok) continue;
        }
        nlohmann::json context = nlohmann::json::object();
        std::string sender;
        if (au.trigger.kind == TriggerKind::replied) {
          ReplyDecision d = decide_auto_reply(e.data, contact->email, ours);
          if (!d.answer) {
            spdlog::info("automation {}: not answering event {}: {}", au.name, e.id, d.reason);
            continue;
          }
          auto last = autoreplies.last_reply(d.sender, au.name);
          if (!last) return std::unexpected(last.error());
          if (*last && now - **last < au.reply_period_seconds) {
            spdlog::info("automation {}: not answering {} again within the reply period", au.name, d.sender);
            continue;
          }
          sender = d.sender;
          context = auto_reply_context(e.data);
        }
        auto id = enrollments.enroll(au.name, contact->id, due_time(au.steps.front(), now, contact->attrs), now, e.id,
                                     context);
        if (!id) return std::unexpected(id.error());
        if (!*id) continue;  // already on its way through this automation
        if (!sender.empty())
          if (auto r = autoreplies.record(sender, au.name, now); !r) return r;
        ++work;
      }
    }
    if (!events->empty()) {
      std::int64_t last = events->back().id;
      for (const auto& a : automations)
        if (cursor[a->automation.name] < last)
          if (auto r = cursors.set(a->automation.name, last); !r) return r;
    }
    return {};
  });
  if (!s) return std::unexpected(s.error());
  return work;
}

Result<int> AutomationEngine::process_due(bool& more) {
  more = false;
  auto automations = snapshot();
  if (automations.empty()) return 0;
  std::map<std::string, LoadedPtr> by_name;
  std::vector<std::string> names;
  for (const auto& a : automations) {
    by_name[a->automation.name] = a;
    names.push_back(a->automation.name);
  }
  util::UnixTime now = clock_.now();
  int work = 0;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    work = 0;
    more = false;
    EnrollmentRepository enrollments(db);
    store::ContactRepository contacts(db);
    auto due = enrollments.due(names, now, settings_.step_batch);
    if (!due) return std::unexpected(due.error());
    more = static_cast<int>(due->size()) == settings_.step_batch;
    for (const Enrollment& en : *due) {
      const Loaded& a = *by_name.at(en.automation);
      const auto& steps = a.automation.steps;
      ++work;
      if (en.step < 0 || static_cast<std::size_t>(en.step) >= steps.size()) {
        // The file lost steps since this contact entered.
        if (auto r = enrollments.complete(en.id, en.step, now); !r) return r;
        continue;
      }
      auto contact = contacts.find_by_id(en.contact_id);
      if (!contact) return std::unexpected(contact.error());
      if (!*contact || (*contact)->status != "subscribed") {
        std::string reason = !*contact ? "contact_gone" : (*contact)->status;
        if (auto r = enrollments.exit(en.id, reason, now); !r) return r;
        continue;
      }
      auto step = static_cast<std::size_t>(en.step);
      nlohmann::json context = en.context.empty() ? nlohmann::json() : en.context;
      auto added = enqueue_step_send(db, a.step_campaign_ids[step], en.contact_id, en.id, context, now);
      if (!added) return std::unexpected(added.error());
      if (step + 1 < steps.size()) {
        if (auto r = enrollments.advance(en.id, static_cast<int>(step + 1),
                                         due_time(steps[step + 1], now, (*contact)->attrs));
            !r)
          return r;
      } else if (auto r = enrollments.complete(en.id, static_cast<int>(steps.size()), now); !r) {
        return r;
      }
    }
    return {};
  });
  if (!s) return std::unexpected(s.error());
  return work;
}

Result<int> AutomationEngine::periodic() {
  auto automations = snapshot();
  if (automations.empty() || !rules_) return 0;
  util::UnixTime now = clock_.now();
  int work = 0;
  for (const auto& entry : automations) {
    const Automation& a = entry->automation;
    std::optional<segments::CompiledSegment> condition;
    if (a.condition) {
      auto seg = rules_->resolve(*a.condition, now, a.condition_place, store_.dialect());
      if (!seg) return fail(seg.error().to_string());
      condition = std::move(*seg);
    }
    std::optional<segments::CompiledSegment> membership;
    if (a.trigger.kind == TriggerKind::joined_segment) {
      auto seg = rules_->resolve(a.trigger.arg, now, a.trigger.place, store_.dialect());
      if (!seg) return fail(seg.error().to_string());
      membership = std::move(*seg);
    } else if (a.trigger.kind == TriggerKind::tag_added) {
      membership = has_tag(a.trigger.arg);
    }
    bool is_date = a.trigger.kind == TriggerKind::date;
    bool exits = a.exit_on.contains("left_segment");
    if (!membership && !is_date && !exits) continue;

    auto s = store_.writer().run([&](const store::Database& db) -> Status {
      EnrollmentRepository enrollments(db);
      store::ContactRepository contacts(db);
      int done = 0;
      if (exits) {
        const segments::CompiledSegment& stay = membership && a.trigger.kind == TriggerKind::joined_segment
                                                    ? *membership
                                                    : *condition;
        auto n = enrollments.exit_unmatched(a.name, stay.where_sql, stay.params, "left_segment", now);
        if (!n) return std::unexpected(n.error());
        done += *n;
      }
      // Who may enter now, with the time the trigger happened.
      std::vector<std::int64_t> candidates;
      if (membership) {
        CursorRepository cursors(db);
        std::string key = "joined:" + a.name;
        auto first = cursors.get(key);
        if (!first) return std::unexpected(first.error());
        if (!*first) {
          // Those already in the segment when the automation appears did not just join it.
          auto n = enrollments.mark_members(a.name, membership->where_sql, membership->params, now);
          if (!n) return std::unexpected(n.error());
          if (auto r = cursors.set(key, now); !r) return r;
        } else {
          auto stmt = db.prepare(
              "SELECT c.id FROM contacts c WHERE c.status = 'subscribed' AND (" + membership->where_sql +
              ") AND NOT EXISTS (SELECT 1 FROM enrollments e WHERE e.automation = ? AND e.contact_id = c.id "
              "AND (e.state = 'active' OR COALESCE(e.exit_reason, '') != 'left_segment')) ORDER BY c.id LIMIT 10000");
          if (!stmt) return std::unexpected(stmt.error());
          stmt->bind_all(membership->params, 1);
          stmt->bind(static_cast<int>(membership->params.size()) + 1, a.name);
          while (true) {
            auto row = stmt->step();
            if (!row) return std::unexpected(row.error());
            if (!*row) break;
            candidates.push_back(stmt->column_int(0));
          }
        }
      } else if (is_date) {
        // SQLite takes a JSON path, PostgreSQL the key itself; JSON null is no date on either.
        std::string path = "$.\"" + a.trigger.arg + "\"";  // the name is letters, digits, - _ . only
        auto stmt = db.prepare(db.sql(
            "SELECT c.id, CAST(json_extract(c.attrs, ?1) AS TEXT) FROM contacts c "
            "WHERE c.status = 'subscribed' AND json_extract(c.attrs, ?1) IS NOT NULL ORDER BY c.id",
            "SELECT c.id, c.attrs->>(?1::text) FROM contacts c "
            "WHERE c.status = 'subscribed' AND c.attrs->>(?1::text) IS NOT NULL ORDER BY c.id"));
        if (!stmt) return std::unexpected(stmt.error());
        stmt->bind(1, db.is_postgresql() ? a.trigger.arg : path);
        while (true) {
          auto row = stmt->step();
          if (!row) return std::unexpected(row.error());
          if (!*row) break;
          auto fire = date_trigger_due(stmt->column_text(1), a.trigger.offset_seconds, now,
                                       settings_.date_window_seconds);
          if (!fire) continue;
          std::int64_t id = stmt->column_int(0);
          auto latest = enrollments.latest(a.name, id);
          if (!latest) return std::unexpected(latest.error());
          if (*latest && (*latest)->entered_at >= *fire) continue;  // this year's already happened
          candidates.push_back(id);
        }
      }
      for (std::int64_t id : candidates) {
        if (condition) {
          auto ok = contact_matches(db, id, *condition);
          if (!ok) return std::unexpected(ok.error());
          if (!*ok) continue;
        }
        auto contact = contacts.find_by_id(id);
        if (!contact) return std::unexpected(contact.error());
        if (!*contact) continue;
        auto enrolled = enrollments.enroll(a.name, id, due_time(a.steps.front(), now, (*contact)->attrs), now,
                                           std::nullopt, nlohmann::json::object());
        if (!enrolled) return std::unexpected(enrolled.error());
        if (*enrolled) ++done;
      }
      work += done;
      return {};
    });
    if (!s) return std::unexpected(s.error());
  }
  return work;
}

// =============================================================================================
// status

Result<std::optional<nlohmann::json>> AutomationEngine::report(const store::Database& db, const std::string& name) {
  auto counts = EnrollmentRepository(db).counts(name);
  if (!counts) return std::unexpected(counts.error());
  nlohmann::json out = {{"name", name},
                        {"enrolled", counts->enrolled},
                        {"active", counts->active},
                        {"completed", counts->completed},
                        {"exited", counts->exited}};
  // Exit reasons, so a report says why contacts left.
  auto reasons = db.cached(
      "SELECT exit_reason, COUNT(*) FROM enrollments WHERE automation = ? AND state = 'exited' "
      "AND COALESCE(exit_reason, '') != ? GROUP BY exit_reason ORDER BY exit_reason");
  if (!reasons) return std::unexpected(reasons.error());
  (*reasons)->bind(1, name).bind(2, kMemberAtStart);
  nlohmann::json by_reason = nlohmann::json::object();
  while (true) {
    auto row = (*reasons)->step();
    if (!row) {
      (*reasons)->reset();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    by_reason[(*reasons)->column_text(0)] = (*reasons)->column_int(1);
  }
  (*reasons)->reset();
  out["exit_reasons"] = by_reason;

  nlohmann::json steps = nlohmann::json::array();
  store::CampaignRepository campaigns(db);
  for (int n = 1;; ++n) {
    auto row = campaigns.find(name + "#" + std::to_string(n));
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto c = step_counts(db, (*row)->id);
    if (!c) return std::unexpected(c.error());
    nlohmann::json step = {{"step", n},           {"campaign", (*row)->name}, {"campaign_id", (*row)->id},
                           {"queued", c->queued}, {"sent", c->sent},          {"failed", c->failed},
                           {"skipped", c->skipped}, {"opened", c->opened},    {"clicked", c->clicked},
                           {"replied", c->replied}};
    steps.push_back(std::move(step));
  }
  if (steps.empty() && counts->enrolled == 0) return std::optional<nlohmann::json>();
  out["steps"] = std::move(steps);
  return std::optional<nlohmann::json>(std::move(out));
}

nlohmann::json AutomationEngine::status() const {
  std::lock_guard lock(mutex_);
  nlohmann::json out = nlohmann::json::array();
  if (!status_reader_) {
    auto reader = store_.open_reader();
    if (!reader) {
      spdlog::error("automation status: {}", reader.error());
      return out;
    }
    status_reader_ = std::move(*reader);
  } else if (auto s = status_reader_->reconnect_if_lost(); !s) {
    spdlog::error("automation status: {}", s.error());
    return out;
  }
  for (const auto& entry : automations_) {
    const Automation& a = entry->automation;
    auto r = report(*status_reader_, a.name);
    if (!r) {
      spdlog::error("automation status {}: {}", a.name, r.error());
      continue;
    }
    nlohmann::json j = r->value_or(nlohmann::json{{"name", a.name}, {"enrolled", 0}, {"active", 0},
                                                  {"completed", 0}, {"exited", 0}, {"steps", nlohmann::json::array()}});
    std::string trigger = to_string(a.trigger.kind);
    if (!a.trigger.arg.empty()) trigger += ":" + a.trigger.arg;
    j["file"] = a.file;
    j["trigger"] = trigger;
    // Only the current steps, with what the file says of them.
    nlohmann::json steps = nlohmann::json::array();
    for (std::size_t i = 0; i < a.steps.size(); ++i) {
      nlohmann::json step = i < j["steps"].size() ? j["steps"][i] : nlohmann::json{{"step", i + 1}};
      step["subject"] = a.steps[i].subject;
      step["template"] = a.steps[i].template_name;
      step["after_s"] = a.steps[i].after_seconds;
      steps.push_back(std::move(step));
    }
    j["steps"] = std::move(steps);
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace campaignd::automation
