#include "daemon/campaigns/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "daemon/segments/compiler.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/sends.hpp"

namespace campaignd::campaigns {

namespace {

std::string definition_json(const Campaign& c) {
  nlohmann::json j = {{"name", c.name},
                      {"file", c.file},
                      {"from", c.from.address},
                      {"subject", c.subject},
                      {"template", c.template_name},
                      {"segment", c.segment},
                      {"fingerprint", c.fingerprint},
                      {"tracking", c.track}};
  if (c.reply_to) j["reply_to"] = c.reply_to->address;
  if (c.topic) j["topic"] = *c.topic;
  if (c.throttle) j["throttle"] = c.throttle->to_string();
  return j.dump();
}

}  // namespace

Scheduler::Scheduler(store::Store& store, Catalog& catalog, const util::Clock& clock, SchedulerPaths paths)
    : store_(store), catalog_(catalog), clock_(clock), paths_(std::move(paths)) {
  auto reader = store_.open_reader();
  if (!reader) throw std::runtime_error(reader.error());
  reader_ = std::move(*reader);
}

Status Scheduler::reload() {
  util::UnixTime now = clock_.now();
  FolderLoad load = load_folder(paths_.campaigns_dir, paths_.loader, now);
  std::set<std::string> current_errors;
  for (const auto& e : load.errors) {
    auto text = e.to_string();
    current_errors.insert(text);
    if (!logged_errors_.contains(text)) spdlog::error("campaign file rejected: {}", text);
  }
  logged_errors_ = current_errors;

  std::map<std::int64_t, PreparedCampaignPtr> prepared;
  std::set<std::int64_t> present;
  for (auto& checked : load.campaigns) {
    Campaign& c = checked.campaign;
    util::UnixTime schedule_at = c.schedule_at.value_or(now);
    std::string definition = definition_json(c);
    store::CampaignRow row;
    auto s = store_.writer().run([&](const store::Database& db) -> Status {
      auto r = store::CampaignRepository(db).upsert(c.name, c.file, definition, schedule_at, now);
      if (!r) return std::unexpected(r.error());
      row = *r;
      return {};
    });
    if (!s) return s;
    present.insert(row.id);
    auto existing = catalog_.find(row.id);
    if (!existing || existing->campaign.fingerprint != c.fingerprint)
      spdlog::info("campaign {} (id {}) loaded from {}: state {}", c.name, row.id, c.file, row.state);
    prepared[row.id] = std::make_shared<const PreparedCampaign>(row.id, std::move(c), std::move(checked.templates));
  }
  if (paths_.confirmation) {
    Campaign c = *paths_.confirmation;
    auto templates = render::TemplateSet::load(paths_.loader.templates_dir, c.template_name, c.subject, "subscribe");
    if (!templates) {
      spdlog::error("double opt-in disabled: {}", templates.error());
      load.errors.push_back({{paths_.loader.templates_dir, 0, 0}, "double opt-in: " + templates.error()});
    } else {
      std::int64_t id = 0;
      auto s = store_.writer().run([&](const store::Database& db) -> Status {
        store::CampaignRepository campaigns(db);
        auto row = campaigns.upsert(c.name, "", definition_json(c), now, now);
        if (!row) return std::unexpected(row.error());
        id = row->id;
        if (row->state != "running") return campaigns.mark_started(id, 0, now);
        return {};
      });
      if (!s) return s;
      confirmation_id_ = id;
      prepared[id] = std::make_shared<const PreparedCampaign>(id, std::move(c), std::move(*templates));
    }
  }
  if (paths_.automations) {
    std::vector<PlacedError> automation_errors;
    if (auto s = paths_.automations(load.automation_files, prepared, automation_errors); !s) return s;
    for (const auto& e : automation_errors) {
      auto text = e.to_string();
      if (!logged_errors_.contains(text)) spdlog::error("automation file rejected: {}", text);
      current_errors.insert(text);
    }
    logged_errors_ = current_errors;
    load.errors.insert(load.errors.end(), automation_errors.begin(), automation_errors.end());
  }
  catalog_.replace(std::move(prepared), load.errors);

  // A running campaign whose file went away pauses (its sends stay queued); it resumes if the
  // file comes back. Nothing is ever re-sent: sends are unique per campaign and contact.
  return store_.writer().run([&](const store::Database& db) -> Status {
    store::CampaignRepository campaigns(db);
    auto rows = campaigns.list();
    if (!rows) return std::unexpected(rows.error());
    for (const auto& row : *rows) {
      // Built-ins ("_…") and automation steps ("…#n") are not campaign files.
    bool has_file = present.contains(row.id) || row.name.starts_with("_") || row.name.find('#') != std::string::npos;
      if (row.state == "running" && !has_file) {
        spdlog::warn("campaign {} (id {}) paused: its file was removed or is invalid", row.name, row.id);
        if (auto s = campaigns.set_state(row.id, "paused", now); !s) return s;
      } else if (row.state == "paused" && has_file) {
        spdlog::info("campaign {} (id {}) resumed", row.name, row.id);
        if (auto s = campaigns.set_state(row.id, row.started_at ? "running" : "scheduled", now); !s) return s;
      }
    }
    return {};
  });
}

Status Scheduler::start(const PreparedCampaign& prepared) {
  const Campaign& c = prepared.campaign;
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(paths_.loader.rules_dir, rule_errors);
  if (!rules) return fail(rules.error());
  auto segment = rules->resolve(c.segment, clock_.now(), c.segment_place);
  if (!segment) return fail(segment.error().to_string());
  util::UnixTime now = clock_.now();
  std::int64_t recipients = 0;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    auto n = store::SendRepository(db).enqueue_matching(prepared.id, segment->where_sql, segment->params, c.topic);
    if (!n) return std::unexpected(n.error());
    recipients = *n;
    return store::CampaignRepository(db).mark_started(prepared.id, recipients, now);
  });
  if (!s) return s;
  spdlog::info("campaign {} (id {}) started: {} recipients", c.name, prepared.id, recipients);
  return {};
}

Result<int> Scheduler::tick() {
  util::UnixTime now = clock_.now();
  store::CampaignRepository campaigns(reader_);
  auto due = campaigns.due(now);
  if (!due) return std::unexpected(due.error());
  int started = 0;
  for (const auto& row : *due) {
    auto prepared = catalog_.find(row.id);
    if (!prepared) continue;  // no valid file for it right now
    if (auto s = start(*prepared); !s) {
      spdlog::error("campaign {} (id {}) failed to start: {}", row.name, row.id, s.error());
      (void)store_.writer().run([&](const store::Database& db) {
        return store::CampaignRepository(db).set_state(row.id, "failed", now, s.error());
      });
      continue;
    }
    ++started;
  }

  auto rows = campaigns.list();
  if (!rows) return std::unexpected(rows.error());
  for (const auto& row : *rows) {
    // Built-ins and automation steps never finish.
    if (row.state != "running" || row.name.starts_with("_") || row.name.find('#') != std::string::npos) continue;
    auto left = store::SendRepository(reader_).unfinished(row.id);
    if (!left) return std::unexpected(left.error());
    if (*left > 0) continue;
    auto counts = campaigns.send_counts(row.id);
    if (!counts) return std::unexpected(counts.error());
    spdlog::info("campaign {} (id {}) done: {} sent, {} failed, {} skipped", row.name, row.id, counts->sent,
                 counts->failed, counts->skipped);
    auto s = store_.writer().run(
        [&](const store::Database& db) { return store::CampaignRepository(db).set_state(row.id, "done", now); });
    if (!s) return std::unexpected(s.error());
  }
  return started;
}

Result<bool> Scheduler::idle(bool include_future_schedules) {
  util::UnixTime now = clock_.now();
  store::CampaignRepository campaigns(reader_);
  auto rows = campaigns.list();
  if (!rows) return std::unexpected(rows.error());
  for (const auto& row : *rows) {
    if (!catalog_.find(row.id)) continue;
    if (row.state == "scheduled" && (include_future_schedules || row.schedule_at <= now)) return false;
  }
  auto next = store::SendRepository(reader_).next_due_at();
  if (!next) return std::unexpected(next.error());
  if (*next && **next <= now) return false;
  auto stmt = reader_.cached("SELECT COUNT(*) FROM sends WHERE state = 'sending'");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = (*stmt)->step();
  std::int64_t sending = (row && *row) ? (*stmt)->column_int(0) : 0;
  (*stmt)->reset();
  return sending == 0;
}

}  // namespace campaignd::campaigns
