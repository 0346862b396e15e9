#include "daemon/analytics/contact_analytics.hpp"

#include "daemon/analytics/engagement.hpp"

namespace campaignd::analytics {

namespace {

std::optional<util::UnixTime> optional_time(const store::Statement& s, int col) {
  if (s.column_is_null(col)) return std::nullopt;
  return s.column_int(col);
}

}  // namespace

Result<ContactAnalytics> contact_analytics(const store::Database& db, std::int64_t contact_id, util::UnixTime now) {
  auto stmt = db.cached(
      "SELECT last_open_at, last_click_at, last_reply_at, first_purchase_at, last_purchase_at, "
      "purchases, revenue, engagement, engagement_at FROM contact_stats WHERE contact_id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  (*stmt)->bind(1, contact_id);
  ContactAnalytics a;
  auto r = (*stmt)->each([&](const store::Statement& s) {
    a.last_open_at = optional_time(s, 0);
    a.last_click_at = optional_time(s, 1);
    a.last_reply_at = optional_time(s, 2);
    a.first_purchase_at = optional_time(s, 3);
    a.last_purchase_at = optional_time(s, 4);
    a.frequency = s.column_int(5);
    a.monetary = s.column_double(6);
    if (!s.column_is_null(8)) a.engagement_score = decayed_engagement(s.column_double(7), s.column_int(8), now);
  });
  if (!r) return std::unexpected(r.error());
  // Sends are not worth a trigger's work each: the events index answers this in one seek.
  auto received = db.cached("SELECT MAX(at) FROM events WHERE contact_id = ? AND kind = 'sent'");
  if (!received) return std::unexpected(received.error());
  (*received)->bind(1, contact_id);
  auto got = (*received)->each([&](const store::Statement& s) { a.last_received_at = optional_time(s, 0); });
  if (!got) return std::unexpected(got.error());
  if (a.frequency > 0 && a.last_purchase_at) {
    a.recency_days = (now - *a.last_purchase_at) / 86400;
    auto bounds = load_rfm_boundaries(db);
    if (!bounds) return std::unexpected(bounds.error());
    if (*bounds)
      a.rfm = RfmScores{quintile_score(static_cast<double>(*a.last_purchase_at), (*bounds)->recency),
                        quintile_score(static_cast<double>(a.frequency), (*bounds)->frequency),
                        quintile_score(a.monetary, (*bounds)->monetary)};
  }
  return a;
}

nlohmann::json to_json(const ContactAnalytics& a) {
  auto time = [](const std::optional<util::UnixTime>& t) {
    return t ? nlohmann::json(util::format_iso8601(*t)) : nlohmann::json(nullptr);
  };
  nlohmann::json j = {{"last_open_at", time(a.last_open_at)},
                      {"last_click_at", time(a.last_click_at)},
                      {"last_reply_at", time(a.last_reply_at)},
                      {"last_received_at", time(a.last_received_at)},
                      {"first_purchase_at", time(a.first_purchase_at)},
                      {"last_purchase_at", time(a.last_purchase_at)},
                      {"frequency", a.frequency},
                      {"monetary", a.monetary},
                      {"recency_days", a.recency_days ? nlohmann::json(*a.recency_days) : nlohmann::json(nullptr)},
                      {"engagement_score", a.engagement_score}};
  if (a.rfm) {
    j["r_score"] = a.rfm->r;
    j["f_score"] = a.rfm->f;
    j["m_score"] = a.rfm->m;
    j["rfm_score"] = a.rfm->code();
  }
  return j;
}

}  // namespace campaignd::analytics
