#include "daemon/tracking/event_recorder.hpp"

#include <spdlog/spdlog.h>

#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::tracking {

namespace {

std::string bare_message_id(std::string id) {
  if (!id.empty() && id.front() == '<') id.erase(0, 1);
  if (!id.empty() && id.back() == '>') id.pop_back();
  return id;
}

// Resolves which send / contact / campaign an event belongs to.
Status resolve(const store::Database& db, const ResponseEvent& e, const store::SendRef* known, RecordOutcome& out) {
  store::SendRepository sends(db);
  std::optional<store::SendRef> send;
  if (known) {
    send = *known;
  } else if (e.send_id) {
    auto found = sends.find(*e.send_id);
    if (!found) return std::unexpected(found.error());
    send = *found;
  }
  if (!send && e.message_id && !e.message_id->empty()) {
    auto found = sends.find_by_message_id(bare_message_id(*e.message_id));
    if (!found) return std::unexpected(found.error());
    send = *found;
  }
  if (send) {
    out.send_id = send->id;
    out.campaign_id = send->campaign_id;
    out.contact_id = send->contact_id;
  }
  if (!out.contact_id && e.recipient) {
    auto id = store::ContactRepository(db).id_for_email(util::normalize_address(*e.recipient));
    if (!id) return std::unexpected(id.error());
    out.contact_id = *id;
  }
  out.matched = out.send_id.has_value() || out.contact_id.has_value();
  return {};
}

// What an event changes besides itself.
Status apply_consequences(const store::Database& db, const ResponseEvent& e, const RecordOutcome& o,
                          const RecorderSettings& settings, util::UnixTime now) {
  store::ContactRepository contacts(db);
  // The address is read only when an event suppresses it: most events (opens, clicks,
  // deliveries) never need it.
  auto suppress = [&](const char* status, const char* reason) -> Status {
    std::optional<std::string> email;
    if (o.contact_id) {
      auto stored = contacts.email_of(*o.contact_id);
      if (!stored) return std::unexpected(stored.error());
      email = std::move(*stored);
    }
    if (!email && e.recipient) email = util::normalize_address(*e.recipient);
    if (email)
      if (auto s = store::SuppressionRepository(db).add(*email, reason, now); !s) return s;
    if (o.contact_id) return contacts.set_status(*o.contact_id, status, now);
    return {};
  };
  if (e.kind == "unsubscribed") return suppress("unsubscribed", "unsubscribed");
  if (e.kind == "complained") return suppress("complained", "complained");
  if (e.kind == "bounced") {
    if (e.bounce_type.value_or("hard") == "hard") return suppress("bounced", "hard bounce");
    // A policy block (5.7.x) is about our sending, not the address: never count it against them.
    if (e.data.is_object() && e.data.value("policy", false)) return {};
    if (!o.contact_id) return {};
    auto bump = db.cached("UPDATE contacts SET soft_bounces = soft_bounces + 1 WHERE id = ? RETURNING soft_bounces");
    if (!bump) return std::unexpected(bump.error());
    (*bump)->bind(1, *o.contact_id);
    auto row = (*bump)->step();
    std::int64_t count = (row && *row) ? (*bump)->column_int(0) : 0;
    (*bump)->reset();
    if (!row) return std::unexpected(row.error());
    if (count >= settings.soft_bounce_limit) {
      spdlog::info("contact {}: {} soft bounces in a row, suppressed", *o.contact_id, count);
      return suppress("bounced", "repeated soft bounces");
    }
    return {};
  }
  if (e.kind == "delivered" && o.contact_id) {
    // A delivery ends a run of soft bounces.
    auto reset = db.cached("UPDATE contacts SET soft_bounces = 0 WHERE id = ? AND soft_bounces > 0");
    if (!reset) return std::unexpected(reset.error());
    return (*reset)->bind(1, *o.contact_id).run();
  }
  return {};
}

}  // namespace

Result<RecordOutcome> EventRecorder::record_in(const store::Database& db, const ResponseEvent& e,
                                               const store::SendRef* send) {
  RecordOutcome out;
  util::UnixTime now = clock_.now();
  if (auto s = resolve(db, e, send, out); !s) return std::unexpected(s.error());
  store::Event ev;
  ev.kind = e.kind;
  ev.contact_id = out.contact_id;
  ev.campaign_id = out.campaign_id;
  ev.send_id = out.send_id;
  ev.at = e.at ? e.at : now;
  ev.amount = e.amount;
  ev.machine = e.machine;
  ev.provider_event_id = e.provider_event_id;
  ev.data = e.data.is_object() ? e.data : nlohmann::json::object();
  if (e.bounce_type) ev.data["bounce_type"] = *e.bounce_type;
  if (e.reason) ev.data["reason"] = *e.reason;
  if (!out.matched && e.recipient) ev.data["recipient"] = *e.recipient;
  // The insert itself is the idempotency check (the provider event id is UNIQUE): one index
  // probe instead of a lookup and then the insert's own.
  auto added = store::EventRepository(db).insert_if_new(ev);
  if (!added) return std::unexpected(added.error());
  if (!*added && e.provider_event_id) {
    RecordOutcome duplicate;
    duplicate.duplicate = true;
    return duplicate;
  }
  if (auto s = apply_consequences(db, e, out, settings_, now); !s) return std::unexpected(s.error());
  return out;
}

Result<RecordOutcome> EventRecorder::record(const ResponseEvent& event) {
  auto all = record_all({event});
  if (!all) return std::unexpected(all.error());
  return all->front();
}

Result<std::vector<RecordOutcome>> EventRecorder::record_all(const std::vector<ResponseEvent>& events) {
  std::vector<RecordOutcome> outcomes;
  auto s = store_.writer().run([&](const store::Database& db) -> Status {
    outcomes.clear();
    for (const auto& e : events) {
      auto o = record_in(db, e);
      if (!o) return std::unexpected(o.error());
      outcomes.push_back(*o);
    }
    return {};
  });
  if (!s) return std::unexpected(s.error());
  return outcomes;
}

}  // namespace campaignd::tracking
