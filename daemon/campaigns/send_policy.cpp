// The SQL of the feedback policies is a condition over contacts, like a compiled segment, so it
// joins the segment's condition in the one INSERT that builds the list.
#include "daemon/campaigns/send_policy.hpp"

namespace campaignd::campaigns {

PolicyFilter enqueue_filter(const Campaign& campaign, util::UnixTime now) {
  PolicyFilter f;
  std::vector<std::string> parts;
  if (campaign.exclude_unengaged_seconds) {
    util::UnixTime cutoff = now - *campaign.exclude_unengaged_seconds;
    parts.push_back(
        "NOT ((c.created_at < ? OR EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id AND e.kind = 'sent' "
        "AND e.at < ?)) AND NOT EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id "
        "AND e.kind IN ('opened', 'clicked', 'replied') AND e.machine = 0 AND e.at >= ?))");
    f.params.insert(f.params.end(), {cutoff, cutoff, cutoff});
  }
  if (const auto& cap = campaign.frequency_cap) {
    // The same count as SendRepository::broadcasts_received, over every contact at once.
    parts.push_back(
        "(SELECT COUNT(*) FROM sends s JOIN campaigns k ON k.id = s.campaign_id WHERE s.contact_id = c.id "
        "AND s.state = 'sent' AND s.sent_at >= ? AND k.name NOT LIKE '\\_%' ESCAPE '\\' "
        "AND k.name NOT LIKE '%#%') < ?");
    f.params.push_back(now - cap->period_seconds);
    f.params.push_back(static_cast<std::int64_t>(cap->max));
  }
  if (!parts.empty()) {
    f.sql.clear();
    for (const auto& p : parts) f.sql += (f.sql.empty() ? "" : " AND ") + p;
  }
  return f;
}

PolicyFilter with_policies(const std::string& segment_sql, const std::vector<store::SqlValue>& segment_params,
                           const Campaign& campaign, util::UnixTime now) {
  PolicyFilter policy = enqueue_filter(campaign, now);
  PolicyFilter out;
  out.sql = "(" + segment_sql + ") AND (" + policy.sql + ")";
  out.params = segment_params;
  out.params.insert(out.params.end(), policy.params.begin(), policy.params.end());
  return out;
}

Result<std::optional<std::string>> send_time_refusal(const store::Database& reader, const PreparedCampaign& campaign,
                                                     const store::ClaimedSend& send, util::UnixTime now) {
  const auto& cap = campaign.campaign.frequency_cap;
  if (!cap || campaign.campaign.kind != CampaignKind::marketing) return std::optional<std::string>();
  auto received =
      store::SendRepository(reader).broadcasts_received(send.contact_id, now - cap->period_seconds, send.id);
  if (!received) return std::unexpected(received.error());
  if (*received < cap->max) return std::optional<std::string>();
  return std::optional<std::string>("frequency cap " + cap->text + " reached (" + std::to_string(*received) +
                                    " campaign emails in the period)");
}

}  // namespace campaignd::campaigns
