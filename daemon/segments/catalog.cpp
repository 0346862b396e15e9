// Built-in fields and functions of the segment language, and the SQL behind each.
//
// Analytics fields are computed from the events table by correlated subqueries until the
// analytics tables exist; then their entries change here and nothing else does.
//   recency_days      whole days since the latest `purchase` event; NULL with no purchase
//   frequency         number of `purchase` events
//   monetary          sum of `purchase` amounts (0 with none)
//   engagement_score  human opened/clicked/replied events of the last 90 days, each weighted
//                     by how recent it is: 1 - age/90d, so today's counts 1 and one 45 days
//                     old counts 0.5. Sum over events; 0 with none.
//   rfm_score         the contact attribute `rfm_score` for now (json_extract(c.attrs, ?)).
#include "daemon/segments/catalog.hpp"

#include <algorithm>

#include "daemon/util/strings.hpp"

namespace campaignd::segments {

namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kEngagementWindow = 90 * kDay;
constexpr std::string_view kPurchase = "purchase";

SqlFragment column(std::string_view sql) { return SqlFragment{}.sql(sql); }

FieldDef status_is(std::string_view status) {
  return {status, ValueType::condition,
          [status](const CompileContext&) { return SqlFragment{}.sql("c.status = ").bind(std::string(status)); }};
}

// A correlated subquery over this contact's purchase events; `select` is its select list.
FieldDef from_purchases(std::string_view name, SqlFragment (*select)(const CompileContext&)) {
  return {name, ValueType::number, [=](const CompileContext& ctx) {
            return SqlFragment{}
                .sql("(SELECT ")
                .append(select(ctx))
                .sql(" FROM events e WHERE e.contact_id = c.id AND e.kind = ")
                .bind(std::string(kPurchase))
                .sql(")");
          }};
}

FieldDef engagement_score() {
  return {"engagement_score", ValueType::number, [](const CompileContext& ctx) {
            return SqlFragment{}
                .sql("(SELECT TOTAL(MIN(1.0, MAX(0.0, 1.0 - (")
                .bind(ctx.now)
                .sql(" - e.at) / ")
                .sql(std::to_string(kEngagementWindow))
                .sql(".0))) FROM events e WHERE e.contact_id = c.id AND e.machine = 0 AND e.kind IN (")
                .bind(std::string("opened"))
                .sql(", ")
                .bind(std::string("clicked"))
                .sql(", ")
                .bind(std::string("replied"))
                .sql(") AND e.at >= ")
                .bind(ctx.now - kEngagementWindow)
                .sql(")");
          }};
}

const std::vector<FieldDef>& field_table() {
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
      from_purchases("recency_days",
                     [](const CompileContext& ctx) {
                       return SqlFragment{}.sql("(").bind(ctx.now).sql(" - MAX(e.at)) / " + std::to_string(kDay));
                     }),
      from_purchases("frequency", [](const CompileContext&) { return SqlFragment{}.sql("COUNT(*)"); }),
      from_purchases("monetary", [](const CompileContext&) { return SqlFragment{}.sql("TOTAL(e.amount)"); }),
      engagement_score(),
      {"rfm_score", ValueType::number, [](const CompileContext&) { return attribute_value("rfm_score"); }},
  };
  return table;
}

enum class Audience { everyone, human };

// True when the contact has an event of `kind` within the duration before now.
FunctionDef event_within(std::string_view name, std::string_view kind, Audience audience) {
  return {name, {ArgType::duration}, ValueType::condition,
          [=](const CompileContext& ctx, const std::vector<Arg>& args) {
            SqlFragment f;
            f.sql("EXISTS (SELECT 1 FROM events e WHERE e.contact_id = c.id AND e.kind = ")
                .bind(std::string(kind))
                .sql(" AND e.at >= ")
                .bind(ctx.now - args[0].seconds);
            if (audience == Audience::human) f.sql(" AND e.machine = 0");
            return f.sql(")");
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
       [](const CompileContext&, const std::vector<Arg>& args) { return attribute_value(args[0].text); }},
      event_within("opened_within", "opened", Audience::human),
      event_within("clicked_within", "clicked", Audience::human),
      event_within("replied_within", "replied", Audience::everyone),
      event_within("received_within", "sent", Audience::everyone),
      event_within("purchased_within", kPurchase, Audience::everyone),
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

SqlFragment attribute_value(std::string_view name) {
  // SQLite before 3.45 does not undo backslash escapes inside a quoted JSON path label, so a
  // name holding `"` or `\` (or a NUL, which ends the path) cannot be addressed by path at all:
  // look it up by key instead.
  if (name.find_first_of(std::string_view("\"\\\0", 3)) != std::string_view::npos) {
    return SqlFragment{}.sql("(SELECT j.value FROM json_each(c.attrs) j WHERE j.key = ").bind(std::string(name)).sql(")");
  }
  return SqlFragment{}.sql("json_extract(c.attrs, ").bind("$.\"" + std::string(name) + "\"").sql(")");
}

}  // namespace campaignd::segments
