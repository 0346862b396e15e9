#include "daemon/analytics/funnel.hpp"

#include "daemon/analytics/campaign_counts.hpp"
#include "daemon/store/campaigns.hpp"

namespace campaignd::analytics {

void add_sends(Funnel& f, const std::string& state, std::int64_t n) {
  f.recipients += n;
  if (state == "sent") f.sent += n;
  else if (state == "failed") f.failed += n;
  else if (state == "skipped") f.skipped += n;
  else f.queued += n;  // queued, sending
}

void add_responses(Funnel& f, const std::string& kind, std::int64_t contacts, double amount) {
  if (kind == "delivered") f.delivered += contacts;
  else if (kind == "bounced") f.bounced += contacts;
  else if (kind == "opened") f.opened += contacts;
  else if (kind == "clicked") f.clicked += contacts;
  else if (kind == "replied") f.replied += contacts;
  else if (kind == "unsubscribed") f.unsubscribed += contacts;
  else if (kind == "complained") f.complained += contacts;
  else if (kind == "converted") {
    f.conversions += contacts;
    f.revenue += amount;
  }
}

void add_counts(Funnel& total, const Funnel& part) {
  total.recipients += part.recipients;
  total.sent += part.sent;
  total.failed += part.failed;
  total.skipped += part.skipped;
  total.queued += part.queued;
  total.delivered += part.delivered;
  total.bounced += part.bounced;
  total.opened += part.opened;
  total.clicked += part.clicked;
  total.replied += part.replied;
  total.unsubscribed += part.unsubscribed;
  total.complained += part.complained;
  total.conversions += part.conversions;
  total.revenue += part.revenue;
}

void finish_rates(Funnel& f) {
  double base = static_cast<double>(f.delivered > 0 ? f.delivered : f.sent);
  auto rate = [&](std::int64_t n) { return base > 0 ? static_cast<double>(n) / base : 0.0; };
  f.open_rate = rate(f.opened);
  f.click_rate = rate(f.clicked);
  f.reply_rate = rate(f.replied);
  f.unsubscribe_rate = rate(f.unsubscribed);
  f.complaint_rate = rate(f.complained);
  f.bounce_rate = f.sent > 0 ? static_cast<double>(f.bounced) / static_cast<double>(f.sent) : 0.0;
  f.click_to_open_rate = f.opened > 0 ? static_cast<double>(f.clicked) / static_cast<double>(f.opened) : 0.0;
}

Result<Funnel> campaign_funnel(const store::Database& db, const std::string& campaign_name) {
  store::CampaignRepository campaigns(db);
  auto row = campaigns.find(campaign_name);
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail("no campaign named '" + campaign_name + "'");
  Funnel f;
  f.name = (*row)->name;
  f.state = (*row)->state;
  auto counts = campaigns.send_counts((*row)->id);
  if (!counts) return std::unexpected(counts.error());
  f.sent = counts->sent;
  f.failed = counts->failed;
  f.skipped = counts->skipped;
  f.queued = counts->queued + counts->sending;
  // The number its segment selected when it started.
  f.recipients = (*row)->recipients;
  auto kinds = campaign_kind_counts(db, (*row)->id);
  if (!kinds) return std::unexpected(kinds.error());
  for (const auto& [kind, c] : *kinds) add_responses(f, kind, c.contacts, c.amount);
  finish_rates(f);
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
