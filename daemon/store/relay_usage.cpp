#include "daemon/store/relay_usage.hpp"

namespace campaignd::store {

Status RelayUsageRepository::add_sent(const std::string& relay, util::UnixTime at) {
  auto stmt = db_.cached(
      "INSERT INTO relay_usage (relay, hour, sent) VALUES (?1, ?2, 1) "
      "ON CONFLICT (relay, hour) DO UPDATE SET sent = relay_usage.sent + 1");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, relay).bind(2, at / 3600).run();
}

Result<std::vector<RelayHour>> RelayUsageRepository::since(util::UnixTime since) {
  auto stmt = db_.cached("SELECT relay, hour, sent FROM relay_usage WHERE hour >= ?1 ORDER BY relay, hour");
  if (!stmt) return std::unexpected(stmt.error());
  std::vector<RelayHour> out;
  auto s = (*stmt)->bind(1, since / 3600).each([&](const Statement& row) {
    out.push_back({row.column_text(0), row.column_int(1), row.column_int(2)});
  });
  if (!s) return std::unexpected(s.error());
  return out;
}

Status RelayUsageRepository::prune(util::UnixTime before) {
  auto stmt = db_.cached("DELETE FROM relay_usage WHERE hour < ?1");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, before / 3600).run();
}

Result<std::optional<util::UnixTime>> RelayUsageRepository::warmup_started(const std::string& relay) {
  auto stmt = db_.cached("SELECT started_at FROM relay_warmup WHERE relay = ?1");
  if (!stmt) return std::unexpected(stmt.error());
  std::optional<util::UnixTime> out;
  auto s = (*stmt)->bind(1, relay).each([&](const Statement& row) { out = row.column_int(0); });
  if (!s) return std::unexpected(s.error());
  return out;
}

Status RelayUsageRepository::start_warmup(const std::string& relay, util::UnixTime day_start) {
  auto stmt = db_.cached("INSERT INTO relay_warmup (relay, started_at) VALUES (?1, ?2) ON CONFLICT (relay) DO NOTHING");
  if (!stmt) return std::unexpected(stmt.error());
  return (*stmt)->bind(1, relay).bind(2, day_start).run();
}

}  // namespace campaignd::store
