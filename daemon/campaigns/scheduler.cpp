#include "daemon/campaigns/scheduler.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "daemon/campaigns/ab_decisions.hpp"
#include "daemon/campaigns/send_policy.hpp"
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
  if (c.relay) j["relay"] = *c.relay;
  if (c.cost) j["cost"] = *c.cost;
  if (!c.variants.empty()) {
    nlohmann::json variants = nlohmann::json::array();
    for (const auto& v : c.variants) {
      nlohmann::json jv = {{"name", v.name}};
      if (v.subject) jv["subject"] = *v.subject;
      if (v.template_name) jv["template"] = *v.template_name;
      variants.push_back(std::move(jv));
    }
    j["variants"] = std::move(variants);
  }
  if (c.ab_test)
    j["ab_test"] = {{"fraction", c.ab_test->fraction},
                    {"wait_s", c.ab_test->wait_seconds},
                    {"metric", to_string(c.ab_test->metric)},
                    {"confidence", c.ab_test->confidence}};
  if (c.exclude_unengaged_seconds) j["exclude_unengaged_s"] = *c.exclude_unengaged_seconds;
  if (c.frequency_cap) j["frequency_cap"] = c.frequency_cap->text;
  if (c.send_time == SendTime::best) j["send_time"] = "best";
  return j.dump();
}

// The events.kind an A/B decision row's metric counts.
std::string metric_event_kind(const std::string& metric) {
  for (AbMetric m : {AbMetric::opens, AbMetric::clicks, AbMetric::replies, AbMetric::conversions})
    if (metric == to_string(m)) return event_kind(m);
  return event_kind(AbMetric::clicks);
}

}  // namespace

Scheduler::Scheduler(store::Store& store, Catalog& catalog, const util::Clock& clock, SchedulerPaths paths)
    : store_(store), catalog_(catalog), clock_(clock), paths_(std::move(paths)) {
  auto reader = store_.open_reader();
  if (!reader) throw std::runtime_error(reader.error());
  reader_ = std::move(*reader);
}

Status Scheduler::reload() {
  return reload({paths_.campaigns_dir, paths_.loader.templates_dir, paths_.loader.rules_dir}, LoadRole::leader);
}

Result<std::optional<store::CampaignRow>> Scheduler::campaign_row(const Campaign& c, const std::string& definition,
                                                                  LoadRole role, util::UnixTime now) {
  if (role == LoadRole::follower) return store::CampaignRepository(reader_).find(c.name);
  store::CampaignRow row;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    auto r = store::CampaignRepository(db).upsert(c.name, c.file, definition, c.schedule_at.value_or(now), now);
    if (!r) return std::unexpected(r.error());
    row = *r;
    return {};
  });
  if (!s) return std::unexpected(s.error());
  return row;
}

Status Scheduler::reload(const SourceFolders& folders, LoadRole role) {
  if (auto s = reader_.reconnect_if_lost(); !s) return s;
  util::UnixTime now = clock_.now();
  FolderLoad load = load_folder(folders.campaigns_dir, folders.loader(), now);
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
    auto row = campaign_row(c, definition_json(c), role, now);
    if (!row) return std::unexpected(row.error());
    if (!*row) continue;  // a follower ahead of the leader's first record of it
    present.insert((*row)->id);
    auto existing = catalog_.find((*row)->id);
    if (!existing || existing->campaign.fingerprint != c.fingerprint)
      spdlog::info("campaign {} (id {}) loaded from {}: state {}", c.name, (*row)->id, c.file, (*row)->state);
    prepared[(*row)->id] = std::make_shared<const PreparedCampaign>(
        (*row)->id, std::move(c), std::move(checked.templates), std::move(checked.variant_templates));
  }
  if (paths_.confirmation) {
    Campaign c = *paths_.confirmation;
    auto templates = render::TemplateSet::load(folders.templates_dir, c.template_name, c.subject, "subscribe");
    if (!templates) {
      spdlog::error("double opt-in disabled: {}", templates.error());
      load.errors.push_back({{folders.templates_dir, 0, 0}, "double opt-in: " + templates.error()});
    } else {
      std::optional<std::int64_t> id;
      if (role == LoadRole::follower) {
        auto row = store::CampaignRepository(reader_).find(c.name);
        if (!row) return std::unexpected(row.error());
        if (*row) id = (*row)->id;
      } else {
        auto s = store_.writer().run([&](const store::Database& db) -> Status {
          store::CampaignRepository campaigns(db);
          auto row = campaigns.upsert(c.name, "", definition_json(c), now, now);
          if (!row) return std::unexpected(row.error());
          id = row->id;
          if (row->state != "running") return campaigns.mark_started(row->id, 0, now);
          return {};
        });
        if (!s) return s;
      }
      if (id) {
        confirmation_id_ = *id;
        prepared[*id] = std::make_shared<const PreparedCampaign>(*id, std::move(c), std::move(*templates));
      }
    }
  }
  if (paths_.automations) {
    std::vector<PlacedError> automation_errors;
    if (auto s = paths_.automations(load.automation_files, folders.loader(), role, prepared, automation_errors); !s)
      return s;
    for (const auto& e : automation_errors) {
      auto text = e.to_string();
      if (!logged_errors_.contains(text)) spdlog::error("automation file rejected: {}", text);
      current_errors.insert(text);
    }
    logged_errors_ = current_errors;
    load.errors.insert(load.errors.end(), automation_errors.begin(), automation_errors.end());
  }
  catalog_.replace(std::move(prepared), load.errors);
  if (role == LoadRole::follower) return {};

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

Result<segments::CompiledSegment> Scheduler::resolve_segment(const Campaign& c) {
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(paths_.loader.rules_dir, rule_errors);
  if (!rules) return fail(rules.error());
  auto segment = rules->resolve(c.segment, clock_.now(), c.segment_place, reader_.dialect());
  if (!segment) return fail(segment.error().to_string());
  return std::move(*segment);
}

Status Scheduler::start(const PreparedCampaign& prepared) {
  const Campaign& c = prepared.campaign;
  auto segment = resolve_segment(c);
  if (!segment) return std::unexpected(segment.error());
  util::UnixTime now = clock_.now();
  const bool ab = c.ab_test && c.variants.size() >= 2;
  const bool plain = !ab && c.send_time == SendTime::as_scheduled;
  PolicyFilter where = with_policies(segment->where_sql, segment->params, c, now);
  std::int64_t recipients = 0;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    store::SendRepository sends(db);
    Result<std::int64_t> n;
    if (plain) {
      n = sends.enqueue_matching(prepared.id, where.sql, where.params, c.topic);
    } else {
      store::SendRepository::EnqueuePlan plan;
      plan.campaign_id = prepared.id;
      plan.where_sql = where.sql;
      plan.params = where.params;
      plan.topic = c.topic;
      if (ab) {
        // Only the test group now; the rest is queued with the winner once the test is decided.
        for (const auto& v : c.variants) plan.split_variants.push_back(v.name);
        plan.fraction = c.ab_test->fraction;
        plan.seed = prepared.id;
      }
      if (c.send_time == SendTime::best) plan.best_hour_from = now;
      n = sends.enqueue_planned(plan);
    }
    if (!n) return std::unexpected(n.error());
    recipients = *n;
    if (ab)
      if (auto r = record_ab_start(db, prepared.id, *c.ab_test, recipients, now); !r) return r;
    return store::CampaignRepository(db).mark_started(prepared.id, recipients, now);
  });
  if (!s) return s;
  if (ab)
    spdlog::info("campaign {} (id {}) started its A/B test: {} recipients in the test group, decision in {} s", c.name,
                 prepared.id, recipients, c.ab_test->wait_seconds);
  else
    spdlog::info("campaign {} (id {}) started: {} recipients", c.name, prepared.id, recipients);
  return {};
}

Status Scheduler::decide(const PreparedCampaign& prepared) {
  const Campaign& c = prepared.campaign;
  auto segment = resolve_segment(c);
  if (!segment) return std::unexpected(segment.error());
  util::UnixTime now = clock_.now();
  PolicyFilter where = with_policies(segment->where_sql, segment->params, c, now);
  AbVerdict verdict;
  std::vector<VariantNumbers> numbers;
  std::int64_t remainder = 0;
  bool decided = false;
  // Counting, deciding and queueing the rest in one transaction: the decision row and the
  // remainder's sends commit together or not at all.
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    auto test = load_ab_decision(db, prepared.id);
    if (!test) return std::unexpected(test.error());
    if (!*test || (*test)->state != "testing") return {};
    store::SendRepository sends(db);
    auto responses = sends.variant_responses(prepared.id, metric_event_kind((*test)->metric));
    if (!responses) return std::unexpected(responses.error());
    // The file's order decides ties; a variant an edit removed still counts, after the others.
    numbers.clear();
    for (const auto& v : c.variants) numbers.push_back({v.name, 0, 0});
    for (const auto& r : *responses) {
      auto it = std::find_if(numbers.begin(), numbers.end(), [&](const auto& n) { return n.variant == r.variant; });
      if (it == numbers.end()) it = numbers.insert(numbers.end(), {r.variant, 0, 0});
      it->sent = r.sent;
      it->responded = r.responded;
    }
    if (numbers.empty()) numbers.push_back({"", 0, 0});
    verdict = decide_ab_test(numbers, (*test)->confidence);
    store::SendRepository::EnqueuePlan plan;
    plan.campaign_id = prepared.id;
    plan.where_sql = where.sql;
    plan.params = where.params;
    plan.topic = c.topic;
    if (!verdict.winner.empty()) plan.variant = verdict.winner;
    if (c.send_time == SendTime::best) plan.best_hour_from = now;
    auto total = sends.enqueue_planned(plan);
    if (!total) return std::unexpected(total.error());
    remainder = *total - (*test)->test_size;
    if (auto r = record_ab_decision(db, prepared.id, verdict, numbers, remainder, now); !r) return r;
    decided = true;
    return store::CampaignRepository(db).mark_started(prepared.id, *total, now);
  });
  if (!s || !decided) return s;
  std::string table;
  for (const auto& n : numbers)
    table += fmt::format("{}{} {}/{}", table.empty() ? "" : ", ", n.variant, n.responded, n.sent);
  spdlog::info("campaign {} (id {}) A/B test decided: winner {} ({}; {} p = {:.4g}, {}); {} more recipients",
               c.name, prepared.id, verdict.winner, table, verdict.test.test, verdict.test.p_value,
               verdict.significant ? "significant" : "not significant", remainder);
  return {};
}

Result<int> Scheduler::tick() {
  if (auto s = reader_.reconnect_if_lost(); !s) return std::unexpected(s.error());
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

  auto tests = ab_tests_due(reader_, now);
  if (!tests) return std::unexpected(tests.error());
  for (std::int64_t id : *tests) {
    auto prepared = catalog_.find(id);
    if (!prepared) continue;  // paused: the decision waits for the file to come back
    if (auto s = decide(*prepared); !s)
      spdlog::error("campaign {} (id {}): A/B decision failed, will retry: {}", prepared->campaign.name, id, s.error());
  }

  auto rows = campaigns.list();
  if (!rows) return std::unexpected(rows.error());
  for (const auto& row : *rows) {
    // Built-ins and automation steps never finish.
    if (row.state != "running" || row.name.starts_with("_") || row.name.find('#') != std::string::npos) continue;
    auto left = store::SendRepository(reader_).any_unfinished(row.id);
    if (!left) return std::unexpected(left.error());
    if (*left) continue;
    auto testing = ab_test_pending(reader_, row.id);  // the rest of the list waits for the winner
    if (!testing) return std::unexpected(testing.error());
    if (*testing) continue;
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
  // An A/B test's decision is a future schedule of its own (tick() takes those due now).
  if (include_future_schedules) {
    auto testing = any_ab_test_pending(reader_);
    if (!testing) return std::unexpected(testing.error());
    if (*testing) return false;
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
