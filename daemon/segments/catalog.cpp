// Built-in fields and functions of the segment language, and the SQL behind each.
//
// Analytics fields and the *_within functions read `contact_stats`, one row per contact that
// migration 4's triggers keep current as events arrive, by correlated primary-key lookups
// (`(SELECT ... FROM contact_stats s WHERE s.contact_id = c.id)`): no scan of events per
// segment. Opens, clicks and replies count human events only (machine = 0).
//   last_open_at, last_click_at, last_reply_at, first_purchase_at, last_purchase_at,
//   last_received_at  times (Unix seconds or ISO-8601 to compare with); NULL when none.
//                     last_received_at is the latest `sent` event, read from the events index
//                     (contact_id, kind, at): one seek, and no trigger work on every send.
//   opened_within(d), clicked_within(d), replied_within(d), received_within(d), purchased_within(d)
//                     the matching time above is at or after now - d
//   created_within(d) the contact was added (c.created_at) at or after now - d
//   recency_days      whole days since the latest `purchase` event; NULL with no purchase
//   frequency         number of `purchase` events (0 with none)
//   monetary          sum of `purchase` amounts (0 with none)
//   engagement_score  opens (1), clicks (2) and replies (3), each halving in weight every 30
//                     days (analytics/engagement.hpp): one open today is 1, a click 30 days ago
//                     is 1, a reply 60 days ago 0.75. 0 with none.
//   r_score, f_score, m_score
//                     RFM quintiles 1-5 (5 best: most recent, most purchases, most spent)
//                     against the boundaries analytics::refresh_rfm last stored (analytics/rfm.hpp);
//                     NULL for contacts with no purchase, and before the first refresh
//   rfm_score         r*100 + f*10 + m, e.g. 545: the RFM cell code marketers write, each digit
//                     readable on its own (`rfm_score >= 500`: among the most recent buyers;
//                     `rfm_score = 555`: champions). NULL as the scores are.
//   rfm_total         r + f + m (3-15), to rank buyers by overall value
// A contact attribute named like one of these is still reachable with attr("rfm_score").
#include "daemon/segments/catalog.hpp"

#include <algorithm>

#include "daemon/analytics/engagement.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::segments {

namespace {

constexpr std::int64_t kDay = 86400;

SqlFragment column(std::string_view sql) { return SqlFragment{}.sql(sql); }

FieldDef status_is(std::string_view status) {
  return {status, ValueType::condition,
          [status](const CompileContext&) { return SqlFragment{}.sql("c.status = ").bind(std::string(status)); }};
}

// `expr` over this contact's contact_stats row `s`; NULL when it has none.
SqlFragment from_stats(const SqlFragment& expr, std::string_view condition = "") {
  return SqlFragment{}
      .sql("(SELECT ")
      .append(expr)
      .sql(" FROM contact_stats s WHERE s.contact_id = c.id")
      .sql(condition)
      .sql(")");
}

// A contact_stats column as a field of type `type`; `when_none` (SQL) when the contact has no row.
FieldDef stat_field(std::string_view name, ValueType type, std::string_view column_sql,
                    std::string_view when_none = "") {
  return {name, type, [=](const CompileContext&) {
            SqlFragment lookup = from_stats(SqlFragment{}.sql(column_sql));
            if (when_none.empty()) return lookup;
            return SqlFragment{}.sql("COALESCE(").append(lookup).sql(", ").sql(when_none).sql(")");
          }};
}

FieldDef engagement_score() {
  return {"engagement_score", ValueType::number, [](const CompileContext& ctx) {
            SqlFragment decayed;
            decayed.sql(analytics::decayed_engagement_sql(ctx.dialect));
            decayed.params.emplace_back(std::int64_t{ctx.now});
            SqlFragment f;
            f.sql("COALESCE(").append(from_stats(decayed)).sql(", 0.0)");
            return f;
          }};
}

// The quintile score (1-5) of contact_stats column `column` against rfm_boundaries columns
// `prefix`1..4: 1 + the number of boundaries the value is above (analytics/rfm.hpp). CASE, not
// a comparison's 0/1: PostgreSQL does not add booleans.
std::string quintile_sql(std::string_view column, std::string_view prefix) {
  std::string out = "(1";
  for (char k : {'1', '2', '3', '4'})
    out += " + CASE WHEN s." + std::string(column) + " > b." + std::string(prefix) + k + " THEN 1 ELSE 0 END";
  return out + ")";
}

// An RFM figure: `expr` over `s` (the contact's stats) and `b` (the boundaries); buyers only.
FieldDef rfm_field(std::string_view name, std::string expr) {
  return {name, ValueType::number, [expr = std::move(expr)](const CompileContext&) {
            return SqlFragment{}
                .sql("(SELECT ")
                .sql(expr)
                .sql(" FROM contact_stats s, rfm_boundaries b WHERE s.contact_id = c.id AND s.purchases > 0 "
                     "AND b.id = 1)");
          }};
}

const std::vector<FieldDef>& field_table() {
  static const std::string r = quintile_sql("last_purchase_at", "r");
  static const std::string f = quintile_sql("purchases", "f");
  static const std::string m = quintile_sql("revenue", "m");
  static const std::vector<FieldDef> table = {
      {"email", ValueType::text, [](const CompileContext&) { return column("c.email"); }},
      {"first_name", ValueType::text, [](const CompileContext&) { return column("c.first_name"); }},
      {"last_name", ValueType::text, [](const CompileContext&) { return column("c.last_name"); }},
      {"status", ValueType::text, [](const CompileContext&) { return column("c.status"); }},
      {"created_at", ValueType::time, [](const CompileContext&) { return column("c.created_at"); }},
      {"updated_at", ValueType::time, [](const CompileContext&) { return column("c.updated_at"); }},
      status_is("subscribed"),
      status_is("unsubscribed"),
      status_is("pending"),
      status_is("bounced"),
      status_is("complained"),
      stat_field("last_open_at", ValueType::time, "s.last_open_at"),
      stat_field("last_click_at", ValueType::time, "s.last_click_at"),
      stat_field("last_reply_at", ValueType::time, "s.last_reply_at"),
      {"last_received_at", ValueType::time,
       [](const CompileContext&) {
         return SqlFragment{}.sql("(SELECT MAX(e.at) FROM events e WHERE e.contact_id = c.id AND e.kind = ").bind(
             std::string("sent")).sql(")");
       }},
      stat_field("first_purchase_at", ValueType::time, "s.first_purchase_at"),
      stat_field("last_purchase_at", ValueType::time, "s.last_purchase_at"),
      {"recency_days", ValueType::number,
       [](const CompileContext& ctx) {
         return from_stats(SqlFragment{}.sql("(").bind(ctx.now).sql(" - s.last_purchase_at) / " + std::to_string(kDay)),
                           " AND s.purchases > 0");
       }},
      stat_field("frequency", ValueType::number, "s.purchases", "0"),
      stat_field("monetary", ValueType::number, "s.revenue", "0.0"),
      engagement_score(),
      rfm_field("r_score", r),
      rfm_field("f_score", f),
      rfm_field("m_score", m),
      rfm_field("rfm_score", r + " * 100 + " + f + " * 10 + " + m),
      rfm_field("rfm_total", r + " + " + f + " + " + m),
  };
  return table;
}

// True when the contact's contact_stats time `column` is within the duration before now.
FunctionDef stat_within(std::string_view name, std::string_view column) {
  return {name, {ArgType::duration}, ValueType::condition,
          [=](const CompileContext& ctx, const std::vector<Arg>& args) {
            return SqlFragment{}
                .sql("EXISTS (SELECT 1 FROM contact_stats s WHERE s.contact_id = c.id AND s.")
                .sql(column)
                .sql(" >= ")
                .bind(ctx.now - args[0].seconds)
                .sql(")");
          }};
}

const std::vector<FunctionDef>& function_table() {
  static const std::vector<FunctionDef> table = {
      {"has_tag", {ArgType::text}, ValueType::condition,
       [](const CompileContext&, const std::vector<Arg>& args) {
         return SqlFragment{}
             .sql("EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_id = c.id AND t.tag = ")
             .bind(args[0].text)
             .sql(")");
       }},
      // An attribute whose name is not a plain identifier: attr("Signup Source") = "web".
      {"attr", {ArgType::text}, ValueType::any,
       [](const CompileContext& ctx, const std::vector<Arg>& args) {
         return attribute_value(args[0].text, ctx.dialect);
       }},
      stat_within("opened_within", "last_open_at"),
      stat_within("clicked_within", "last_click_at"),
      stat_within("replied_within", "last_reply_at"),
      {"received_within", {ArgType::duration}, ValueType::condition,
       [](const CompileContext& ctx, const std::vector<Arg>& args) {
         return SqlFragment{}
             .sql("EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id AND e.kind = ")
             .bind(std::string("sent"))
             .sql(" AND e.at >= ")
             .bind(ctx.now - args[0].seconds)
             .sql(")");
       }},
      stat_within("purchased_within", "last_purchase_at"),
      // Added to the list (imported, subscribed or confirmed) within the duration before now.
      {"created_within", {ArgType::duration}, ValueType::condition,
       [](const CompileContext& ctx, const std::vector<Arg>& args) {
         SqlFragment f;
         f.sql("c.created_at >= ").bind(ctx.now - args[0].seconds);
         return f;
       }},
  };
  return table;
}

template <typename Def>
const Def* find_in(const std::vector<Def>& table, std::string_view name) {
  auto it = std::find_if(table.begin(), table.end(), [&](const Def& d) { return util::iequals(d.name, name); });
  return it == table.end() ? nullptr : &*it;
}

}  // namespace

const FieldDef* find_field(std::string_view name) { return find_in(field_table(), name); }
const FunctionDef* find_function(std::string_view name) { return find_in(function_table(), name); }

namespace {

// PostgreSQL: attrs is jsonb. `->` with a text key reaches any name, quotes and backslashes
// included; each use of the value binds the name once more (the markers are plain `?`s).
SqlFragment postgresql_attribute(std::string_view name, AttrView view) {
  // PostgreSQL text cannot hold a NUL and jsonb keys never do: such an attribute is never present.
  if (name.find('\0') != std::string_view::npos) {
    switch (view) {
      case AttrView::json: return column("NULL::jsonb");
      case AttrView::number: return column("NULL::numeric");
      case AttrView::text:
      case AttrView::shown: return column("NULL::text");
    }
  }
  const std::string key(name);
  SqlFragment f;
  switch (view) {
    case AttrView::json: return f.sql("(c.attrs -> ").bind(key).sql("::text)");
    case AttrView::number:
      return f.sql("CASE jsonb_typeof(c.attrs -> ").bind(key).sql("::text) WHEN 'number' THEN (c.attrs -> ")
          .bind(key)
          .sql("::text)::numeric WHEN 'boolean' THEN CASE WHEN (c.attrs -> ")
          .bind(key)
          .sql("::text)::boolean THEN 1 ELSE 0 END END");
    case AttrView::text:
      return f.sql("CASE WHEN jsonb_typeof(c.attrs -> ").bind(key).sql("::text) = 'string' THEN c.attrs ->> ")
          .bind(key)
          .sql("::text END");
    case AttrView::shown: return f.sql("(c.attrs ->> ").bind(key).sql("::text)");
  }
  return f;
}

}  // namespace

SqlFragment attribute_value(std::string_view name, store::Dialect dialect, AttrView view) {
  if (dialect == store::Dialect::postgresql) return postgresql_attribute(name, view);
  // SQLite before 3.45 does not undo backslash escapes inside a quoted JSON path label, so a
  // name holding `"` or `\` (or a NUL, which ends the path) cannot be addressed by path at all:
  // look it up by key instead.
  if (name.find_first_of(std::string_view("\"\\\0", 3)) != std::string_view::npos) {
    return SqlFragment{}.sql("(SELECT j.value FROM json_each(c.attrs) j WHERE j.key = ").bind(std::string(name)).sql(")");
  }
  return SqlFragment{}.sql("json_extract(c.attrs, ").bind("$.\"" + std::string(name) + "\"").sql(")");
}

}  // namespace campaignd::segments
