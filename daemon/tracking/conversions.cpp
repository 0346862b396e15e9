#include "daemon/tracking/conversions.hpp"

#include "daemon/store/events.hpp"

namespace campaignd::tracking {

Result<bool> attribute_purchase(const store::Database& db, std::int64_t contact_id, util::UnixTime at,
                                std::optional<double> amount, const std::string& purchase_key,
                                std::int64_t window_seconds) {
  auto stmt = db.cached(
      "SELECT send_id, campaign_id FROM events WHERE contact_id = ?1 AND kind = 'clicked' AND machine = 0 "
      "AND send_id IS NOT NULL AND at <= ?2 AND at >= ?2 - ?3 ORDER BY at DESC, id DESC LIMIT 1");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id).bind(2, at).bind(3, window_seconds);
  auto row = (*stmt)->step();
  if (!row) {
    (*stmt)->reset();
    return std::unexpected(row.error());
  }
  if (!*row) {
    (*stmt)->reset();
    return false;
  }
  store::Event e;
  e.kind = "converted";
  e.contact_id = contact_id;
  e.send_id = (*stmt)->column_int(0);
  e.campaign_id = (*stmt)->column_int(1);
  (*stmt)->reset();
  e.at = at;
  e.amount = amount;
  e.provider_event_id = "converted:" + purchase_key;
  e.data = {{"attribution", "last click"}, {"window_s", window_seconds}};
  if (auto s = store::EventRepository(db).insert(e); !s) return std::unexpected(s.error());
  return true;
}

}  // namespace campaignd::tracking
