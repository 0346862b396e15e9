// All SQL for the events table.
#include "daemon/store/events.hpp"

namespace campaignd::store {

Status EventRepository::insert(const Event& e) {
  auto added = insert_if_new(e);
  if (!added) return std::unexpected(added.error());
  return {};
}

Result<bool> EventRepository::insert_if_new(const Event& e) {
  if (e.kind.empty()) return fail("event without a kind");
  auto stmt = db_.cached(
      "INSERT INTO events (kind, contact_id, campaign_id, send_id, at, amount, machine, "
      "provider_event_id, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  std::string data = e.data.is_object() ? e.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : "{}";
  (*stmt)->bind(1, e.kind).bind(2, e.contact_id).bind(3, e.campaign_id).bind(4, e.send_id).bind(5, e.at);
  if (e.amount)
    (*stmt)->bind(6, *e.amount);
  else
    (*stmt)->bind(6, nullptr);
  (*stmt)->bind(7, e.machine ? 1 : 0).bind(8, e.provider_event_id).bind(9, data);
  if (auto s = (*stmt)->run(); !s) return std::unexpected(s.error());
  return db_.changes() > 0;
}

Result<std::vector<Event>> EventRepository::for_contact(std::int64_t contact_id) {
  auto stmt = db_.cached(
      "SELECT id, kind, contact_id, campaign_id, send_id, at, amount, machine, provider_event_id, data "
      "FROM events WHERE contact_id = ? ORDER BY at, id");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id);
  std::vector<Event> out;
  while (true) {
    auto row = (*stmt)->step();
    if (!row) {
      (*stmt)->reset();
      return std::unexpected(row.error());
    }
    if (!*row) break;
    const Statement& s = **stmt;
    Event e;
    e.id = s.column_int(0);
    e.kind = s.column_text(1);
    if (!s.column_is_null(2)) e.contact_id = s.column_int(2);
    if (!s.column_is_null(3)) e.campaign_id = s.column_int(3);
    if (!s.column_is_null(4)) e.send_id = s.column_int(4);
    e.at = s.column_int(5);
    if (!s.column_is_null(6)) e.amount = s.column_double(6);
    e.machine = s.column_int(7) != 0;
    e.provider_event_id = s.column_optional_text(8);
    e.data = nlohmann::json::parse(s.column_text(9), nullptr, false);
    if (!e.data.is_object()) e.data = nlohmann::json::object();
    out.push_back(std::move(e));
  }
  (*stmt)->reset();
  return out;
}

}  // namespace campaignd::store
