// The campaign report's queries. The overall funnel comes from the maintained aggregates; the
// slices, links and acquisition figures scan the campaign's own events (events_by_campaign),
// which is fine for a report asked for by a person, not for /status.
#include "daemon/analytics/campaign_report.hpp"

#include <algorithm>
#include <tuple>

#include "daemon/analytics/campaign_counts.hpp"
#include "daemon/store/campaigns.hpp"

namespace campaignd::analytics {

namespace {

// Runs `sql` with the campaign id bound to ?1 and calls `row` for each result row.
template <typename RowFn>
Status each_row(const store::Database& db, std::string_view sql, std::int64_t campaign_id, RowFn&& row) {
  auto stmt = db.prepare(sql);
  if (!stmt) return std::unexpected(stmt.error());
  stmt->bind(1, campaign_id);
  return stmt->each(std::forward<RowFn>(row));
}

// The link a click event went to (tracking_service stores it as data.url). PostgreSQL's data is
// jsonb, always valid.
std::string url_of(const store::Database& db, const std::string& alias) {
  if (db.is_postgresql()) return "COALESCE(" + alias + ".data ->> 'url', '')";
  return "COALESCE(CASE WHEN json_valid(" + alias + ".data) THEN json_extract(" + alias + ".data, '$.url') END, '')";
}

// The campaign split by a key over the send (alias s) and its contact (alias c). Sends are
// counted by state, events by kind as distinct contacts, human events only.
Result<std::vector<Slice>> slices(const store::Database& db, std::int64_t campaign_id, const std::string& key_sql) {
  std::map<std::string, Funnel> by_key;
  auto sends = each_row(db,
                        "SELECT " + key_sql + ", s.state, COUNT(*) FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id "
                        "WHERE s.campaign_id = ?1 GROUP BY 1, 2",
                        campaign_id, [&](const store::Statement& r) {
                          add_sends(by_key[r.column_text(0)], r.column_text(1), r.column_int(2));
                        });
  if (!sends) return std::unexpected(sends.error());
  auto events = each_row(db,
                         "SELECT " + key_sql + ", e.kind, COUNT(DISTINCT e.contact_id), COALESCE(SUM(e.amount), 0) FROM events e "
                         "LEFT JOIN sends s ON s.id = e.send_id LEFT JOIN contacts c ON c.id = e.contact_id "
                         "WHERE e.campaign_id = ?1 AND e.machine = 0 AND e.kind <> 'sent' GROUP BY 1, 2",
                         campaign_id, [&](const store::Statement& r) {
                           add_responses(by_key[r.column_text(0)], r.column_text(1), r.column_int(2), r.column_double(3));
                         });
  if (!events) return std::unexpected(events.error());
  std::vector<Slice> out;
  for (auto& [key, funnel] : by_key) {
    funnel.name = key;
    finish_rates(funnel);
    out.push_back(Slice{key, funnel});
  }
  // Largest first: by recipients, then (for events without sends) by deliveries.
  std::stable_sort(out.begin(), out.end(), [](const Slice& a, const Slice& b) {
    return std::tie(a.funnel.recipients, a.funnel.delivered) > std::tie(b.funnel.recipients, b.funnel.delivered);
  });
  return out;
}

// Beyond `keep` slices, the rest become one "(other)": a contact is in one slice only, so
// distinct-contact counts add up.
void merge_tail(std::vector<Slice>& s, size_t keep) {
  if (s.size() <= keep + 1) return;
  Slice other{"(other)", {}};
  other.funnel.name = other.key;
  for (size_t i = keep; i < s.size(); ++i) add_counts(other.funnel, s[i].funnel);
  finish_rates(other.funnel);
  s.resize(keep);
  s.push_back(std::move(other));
}

Status read_links(const store::Database& db, CampaignReport& r) {
  std::map<std::string, LinkStats> by_url;
  auto clicks = each_row(db,
                         "SELECT " + url_of(db, "e") + ", COUNT(DISTINCT e.contact_id), COUNT(*) FROM events e "
                         "WHERE e.campaign_id = ?1 AND e.kind = 'clicked' AND e.machine = 0 GROUP BY 1",
                         r.campaign_id, [&](const store::Statement& row) {
                           LinkStats& l = by_url[row.column_text(0)];
                           l.clickers = row.column_int(1);
                           l.clicks = row.column_int(2);
                         });
  if (!clicks) return clicks;
  // A conversion is credited to its send's last human click before it (what conversions.cpp
  // attributed it by); that click's link gets it. The send's clicks are found among its
  // contact's events (events_by_contact): events carry no index by send.
  auto conversions = each_row(
      db,
      "SELECT COALESCE((SELECT " + url_of(db, "k") + " FROM events k WHERE k.contact_id = v.contact_id AND k.send_id = v.send_id AND k.kind = 'clicked' "
      "AND k.machine = 0 AND k.at <= v.at ORDER BY k.at DESC, k.id DESC LIMIT 1), ''), "
      "COUNT(DISTINCT v.contact_id), COALESCE(SUM(v.amount), 0) FROM events v "
      "WHERE v.campaign_id = ?1 AND v.kind = 'converted' AND v.machine = 0 GROUP BY 1",
      r.campaign_id, [&](const store::Statement& row) {
        LinkStats& l = by_url[row.column_text(0)];
        l.conversions = row.column_int(1);
        l.revenue = row.column_double(2);
      });
  if (!conversions) return conversions;
  const Funnel& f = r.overall;
  double base = static_cast<double>(f.delivered > 0 ? f.delivered : f.sent);
  for (auto& [u, l] : by_url) {
    l.url = u.empty() ? "(unknown)" : u;  // a click without its link, a conversion without a click
    l.click_rate = base > 0 ? static_cast<double>(l.clickers) / base : 0.0;
    l.share_of_clickers = f.clicked > 0 ? static_cast<double>(l.clickers) / static_cast<double>(f.clicked) : 0.0;
    r.links.push_back(l);
  }
  std::stable_sort(r.links.begin(), r.links.end(),
                   [](const LinkStats& a, const LinkStats& b) { return a.clickers > b.clickers; });
  return {};
}

Status read_acquisition(const store::Database& db, CampaignReport& r) {
  auto cost = each_row(db,
                       db.sql("SELECT CASE WHEN json_valid(definition) THEN json_extract(definition, '$.cost') END "
                              "FROM campaigns WHERE id = ?1",
                              "SELECT CASE WHEN jsonb_typeof(definition -> 'cost') = 'number' "
                              "THEN (definition -> 'cost')::float8 END FROM campaigns WHERE id = ?1"),
                       r.campaign_id, [&](const store::Statement& row) {
                         auto v = row.column_value(0);
                         if (const auto* d = std::get_if<double>(&v)) r.cost = *d;
                         else if (const auto* i = std::get_if<std::int64_t>(&v)) r.cost = static_cast<double>(*i);
                       });
  if (!cost) return cost;
  // What counts as a response for its cost: a click, a reply or a conversion.
  auto responses = each_row(db,
                            "SELECT COUNT(DISTINCT contact_id) FROM events WHERE campaign_id = ?1 AND machine = 0 "
                            "AND kind IN ('clicked', 'replied', 'converted')",
                            r.campaign_id, [&](const store::Statement& row) { r.responses = row.column_int(0); });
  if (!responses) return responses;
  if (r.cost && r.responses > 0) r.cost_per_response = *r.cost / static_cast<double>(r.responses);
  return each_row(db,
                  "SELECT COUNT(DISTINCT e.contact_id) FROM events e JOIN contact_stats s ON s.contact_id = e.contact_id "
                  "WHERE e.campaign_id = ?1 AND e.kind = 'converted' AND e.machine = 0 AND e.at = s.first_purchase_at",
                  r.campaign_id, [&](const store::Statement& row) { r.new_customers = row.column_int(0); });
}

Status read_hourly(const store::Database& db, CampaignReport& r) {
  auto rows = campaign_hourly_counts(db, r.campaign_id);
  if (!rows) return std::unexpected(rows.error());
  for (const auto& h : *rows) {
    if (r.hourly.empty() || r.hourly.back().hour != h.hour) r.hourly.push_back(HourPoint{h.hour, {}, {}});
    r.hourly.back().events[h.kind] = h.events;
    r.hourly.back().contacts[h.kind] = h.contacts;
  }
  return {};
}

nlohmann::json slice_json(const char* key_name, const Slice& s) {
  nlohmann::json j = to_json(s.funnel);
  j.erase("name");
  j.erase("state");
  j[key_name] = s.key;
  return j;
}

}  // namespace

Result<CampaignReport> campaign_report(const store::Database& db, const std::string& campaign_name) {
  auto funnel = campaign_funnel(db, campaign_name);
  if (!funnel) return std::unexpected(funnel.error());
  auto row = store::CampaignRepository(db).find(campaign_name);
  if (!row) return std::unexpected(row.error());
  if (!*row) return fail("no campaign named '" + campaign_name + "'");
  CampaignReport r;
  r.campaign_id = (*row)->id;
  r.overall = *funnel;

  auto v = slices(db, r.campaign_id, "COALESCE(s.variant, '(none)')");
  if (!v) return std::unexpected(v.error());
  bool any = std::any_of(v->begin(), v->end(), [](const Slice& s) { return s.key != "(none)"; });
  if (any) r.variants = std::move(*v);
  auto d = slices(db, r.campaign_id,
                  std::string("CASE WHEN c.id IS NULL THEN '(forgotten)' ELSE substr(c.email, ") +
                      std::string(db.sql("instr", "strpos")) + "(c.email, '@') + 1) END");
  if (!d) return std::unexpected(d.error());
  r.domains = std::move(*d);
  merge_tail(r.domains, kMaxDomains);
  if (auto s = read_links(db, r); !s) return std::unexpected(s.error());
  if (auto s = read_acquisition(db, r); !s) return std::unexpected(s.error());
  if (auto s = read_hourly(db, r); !s) return std::unexpected(s.error());
  return r;
}

nlohmann::json to_json(const CampaignReport& r) {
  nlohmann::json j = to_json(r.overall);
  j["cost"] = r.cost ? nlohmann::json(*r.cost) : nlohmann::json(nullptr);
  j["responses"] = r.responses;
  j["cost_per_response"] = r.cost_per_response ? nlohmann::json(*r.cost_per_response) : nlohmann::json(nullptr);
  j["new_customers"] = r.new_customers;
  j["variants"] = nlohmann::json::array();
  for (const auto& s : r.variants) j["variants"].push_back(slice_json("variant", s));
  j["domains"] = nlohmann::json::array();
  for (const auto& s : r.domains) j["domains"].push_back(slice_json("domain", s));
  j["links"] = nlohmann::json::array();
  for (const auto& l : r.links)
    j["links"].push_back({{"url", l.url},
                          {"clickers", l.clickers},
                          {"clicks", l.clicks},
                          {"click_rate", l.click_rate},
                          {"share_of_clickers", l.share_of_clickers},
                          {"conversions", l.conversions},
                          {"revenue", l.revenue}});
  j["hourly"] = nlohmann::json::array();
  for (const auto& h : r.hourly) {
    nlohmann::json p = {{"hour", h.hour}, {"time", util::format_iso8601(h.hour)}};
    for (const char* kind : {"opened", "clicked", "replied", "unsubscribed", "converted"}) {
      auto e = h.events.find(kind);
      auto c = h.contacts.find(kind);
      p[kind] = e == h.events.end() ? 0 : e->second;
      p[std::string("first_") + kind] = c == h.contacts.end() ? 0 : c->second;
    }
    j["hourly"].push_back(std::move(p));
  }
  return j;
}

Result<std::vector<Funnel>> automation_step_funnels(const store::Database& db, const std::string& name) {
  std::vector<Funnel> out;
  store::CampaignRepository campaigns(db);
  for (int n = 1;; ++n) {
    std::string step = name + "#" + std::to_string(n);
    auto row = campaigns.find(step);
    if (!row) return std::unexpected(row.error());
    if (!*row) break;
    auto f = campaign_funnel(db, step);
    if (!f) return std::unexpected(f.error());
    out.push_back(std::move(*f));
  }
  return out;
}

}  // namespace campaignd::analytics
