#include "daemon/analytics/funnel.hpp"

#include "daemon/store/campaigns.hpp"

namespace campaignd::analytics {

Result<Funnel> campaign_funnel(const store::Database& db, const std::string& campaign_name) {
  store::CampaignRepository campaigns(db);
  auto row = campaigns.find(campaign_name);
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail("no campaign named '" + campaign_name + "'");
  Funnel f;
  f.name = (*row)->name;
  f.state = (*row)->state;
  f.recipients = (*row)->recipients;
  auto counts = campaigns.send_counts((*row)->id);
  if (!counts) return std::unexpected(counts.error());
  f.sent = counts->sent;
  f.failed = counts->failed;
  f.skipped = counts->skipped;
  f.queued = counts->queued + counts->sending;

  // Distinct contacts per kind; machine opens and clicks (prefetchers, scanners) don't count.
  auto stmt = db.prepare(
      "SELECT kind, COUNT(DISTINCT contact_id), COALESCE(SUM(amount), 0) FROM events "
      "WHERE campaign_id = ? AND machine = 0 GROUP BY kind");
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(1, (*row)->id);
  auto counted = stmt->each([&](const store::Statement& r) {
    std::string kind = r.column_text(0);
    std::int64_t n = r.column_int(1);
    if (kind == "delivered") f.delivered = n;
    else if (kind == "bounced") f.bounced = n;
    else if (kind == "opened") f.opened = n;
    else if (kind == "clicked") f.clicked = n;
    else if (kind == "replied") f.replied = n;
    else if (kind == "unsubscribed") f.unsubscribed = n;
    else if (kind == "complained") f.complained = n;
    else if (kind == "converted") {
      f.conversions = n;
      f.revenue = r.column_double(2);
    }
  });
  if (!counted) return std::unexpected(counted.error());
  double base = static_cast<double>(f.delivered > 0 ? f.delivered : f.sent);
  auto rate = [&](std::int64_t n) { return base > 0 ? static_cast<double>(n) / base : 0.0; };
  f.open_rate = rate(f.opened);
  f.click_rate = rate(f.clicked);
  f.reply_rate = rate(f.replied);
  f.unsubscribe_rate = rate(f.unsubscribed);
  f.complaint_rate = rate(f.complained);
  f.bounce_rate = f.sent > 0 ? static_cast<double>(f.bounced) / static_cast<double>(f.sent) : 0.0;
  f.click_to_open_rate = f.opened > 0 ? static_cast<double>(f.clicked) / static_cast<double>(f.opened) : 0.0;
  return f;
}

nlohmann::json to_json(const Funnel& f) {
  return {{"name", f.name},
          {"state", f.state},
          {"recipients", f.recipients},
          {"sent", f.sent},
          {"failed", f.failed},
          {"skipped", f.skipped},
          {"queued", f.queued},
          {"delivered", f.delivered},
          {"bounced", f.bounced},
          {"opened", f.opened},
          {"clicked", f.clicked},
          {"replied", f.replied},
          {"unsubscribed", f.unsubscribed},
          {"complained", f.complained},
          {"conversions", f.conversions},
          {"revenue", f.revenue},
          {"open_rate", f.open_rate},
          {"click_rate", f.click_rate},
          {"click_to_open_rate", f.click_to_open_rate},
          {"reply_rate", f.reply_rate},
          {"bounce_rate", f.bounce_rate},
          {"unsubscribe_rate", f.unsubscribe_rate},
          {"complaint_rate", f.complaint_rate}};
}

}  // namespace campaignd::analytics
