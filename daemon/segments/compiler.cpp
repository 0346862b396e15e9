// Compiles a parsed segment expression to SQL by walking the tree; names and functions come
// from the catalog, so this file knows only the operators.
#include "daemon/segments/compiler.hpp"

#include <optional>
#include <type_traits>
#include <utility>

#include "daemon/segments/catalog.hpp"
#include "daemon/segments/parser.hpp"

namespace campaignd::segments {

namespace {

template <typename T>
using Compiled = std::expected<T, SegmentError>;

std::unexpected<SegmentError> error_at(int col, std::string message) {
  return std::unexpected(SegmentError{col, std::move(message)});
}

// A subject resolved to its SQL value and type.
struct Operand {
  SqlFragment sql;
  ValueType type;
  std::string name;  // as written, for messages
  int col;
  std::optional<std::string> attribute;  // the attribute's name, when the operand is one (type any)
};

std::string_view sql_operator(ast::CompareOp op) {
  switch (op) {
    case ast::CompareOp::eq:
    case ast::CompareOp::ne: return " = ";  // != is compiled as NOT (=)
    case ast::CompareOp::lt: return " < ";
    case ast::CompareOp::le: return " <= ";
    case ast::CompareOp::gt: return " > ";
    case ast::CompareOp::ge: return " >= ";
  }
  return " = ";
}

SqlFragment negate(const SqlFragment& condition) { return SqlFragment{}.sql("NOT (").append(condition).sql(")"); }

// ASCII letters only, as SQLite's lower() does (PostgreSQL's follows the server's locale).
constexpr std::string_view kAsciiLower =
    "translate(%, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')";

SqlFragment ascii_lower(const SqlFragment& text) {
  const size_t at = kAsciiLower.find('%');
  return SqlFragment{}.sql(kAsciiLower.substr(0, at)).append(text).sql(kAsciiLower.substr(at + 1));
}

// SQLite and PostgreSQL differ in how a condition reads an attribute (catalog.hpp's AttrView) and
// in that PostgreSQL's conditions are booleans, not 0/1; the SQLite text is what it always was.
class Compiler {
 public:
  explicit Compiler(CompileContext ctx) : ctx_(ctx) {}

  Compiled<SqlFragment> condition(const ast::Node& node) {
    return std::visit([this](const auto& n) { return on(n); }, node.kind);
  }

 private:
  Compiled<SqlFragment> on(const ast::Junction& j) {
    std::string_view joiner = j.kind == ast::Junction::Kind::all ? " AND " : " OR ";
    SqlFragment out;
    out.sql("(");
    for (size_t i = 0; i < j.terms.size(); ++i) {
      auto term = condition(j.terms[i]);
      if (!term) return term;
      if (i) out.sql(joiner);
      out.append(*term);
    }
    return out.sql(")");
  }

  Compiled<SqlFragment> on(const ast::Not& n) {
    auto inner = condition(*n.operand);
    if (!inner) return inner;
    return negate(*inner);
  }

  Compiled<SqlFragment> on(const ast::Test& t) {
    auto operand = subject(t.subject);
    if (!operand) return std::unexpected(operand.error());
    if (operand->type == ValueType::condition) return operand->sql;
    return truthy(*operand);
  }

  Compiled<SqlFragment> on(const ast::Compare& c) {
    auto operand = comparable(c.subject);
    if (!operand) return std::unexpected(operand.error());
    if (const bool* b = std::get_if<bool>(&c.value.value)) {
      if (c.op != ast::CompareOp::eq && c.op != ast::CompareOp::ne)
        return error_at(c.op_col, "true and false can only be compared with = or !=");
      bool wanted = *b == (c.op == ast::CompareOp::eq);
      return wanted ? truthy(*operand) : negate(truthy(*operand));
    }
    auto value = bindable(*operand, c.value);
    if (!value) return std::unexpected(value.error());
    const bool number = !std::holds_alternative<std::string>(*value);
    SqlFragment comparison;
    bool ordering = c.op != ast::CompareOp::eq && c.op != ast::CompareOp::ne;
    if (ordering && operand->type == ValueType::any && !postgresql()) {
      // SQLite orders every number before every text, so "abc" > 2 would hold: an attribute is
      // ordered against a literal only when their kinds agree.
      comparison.sql("typeof(").append(operand->sql).sql(number ? ") IN ('integer', 'real') AND " : ") = 'text' AND ");
    }
    comparison.append(read(*operand, number ? AttrView::number : AttrView::text))
        .sql(sql_operator(c.op))
        .append(marker(*value));
    SqlFragment test = false_if_null(comparison);
    return c.op == ast::CompareOp::ne ? negate(test) : test;
  }

  Compiled<SqlFragment> on(const ast::InList& in) {
    auto operand = comparable(in.subject);
    if (!operand) return std::unexpected(operand.error());
    std::vector<store::SqlValue> values;
    for (const ast::Literal& literal : in.values) {
      if (std::holds_alternative<bool>(literal.value))
        return error_at(literal.col, "true and false cannot be in a list");
      auto value = bindable(*operand, literal);
      if (!value) return std::unexpected(value.error());
      values.push_back(std::move(*value));
    }
    SqlFragment test;
    if (values.empty()) {
      test.sql(postgresql() ? "FALSE" : "0");
    } else if (postgresql() && operand->type == ValueType::any) {
      // jsonb is read as a number or as text, so the list splits: numbers IN (…) OR texts IN (…).
      std::vector<store::SqlValue> numbers, texts;
      for (auto& v : values) (std::holds_alternative<std::string>(v) ? texts : numbers).push_back(std::move(v));
      SqlFragment either;
      either.sql("(");
      if (!numbers.empty()) either.append(in_list(read(*operand, AttrView::number), numbers));
      if (!numbers.empty() && !texts.empty()) either.sql(" OR ");
      if (!texts.empty()) either.append(in_list(read(*operand, AttrView::text), texts));
      test = false_if_null(either.sql(")"));
    } else {
      test = false_if_null(in_list(operand->sql, values));
    }
    return in.negated ? negate(test) : test;
  }

  Compiled<SqlFragment> on(const ast::Contains& c) {
    auto operand = comparable(c.subject);
    if (!operand) return std::unexpected(operand.error());
    if (operand->type != ValueType::text && operand->type != ValueType::any)
      return error_at(c.op_col, "'contains' needs text, but '" + operand->name + "' is not text");
    const auto* needle = std::get_if<std::string>(&c.needle.value);
    if (!needle) return error_at(c.needle.col, "'contains' takes a string, e.g. email contains \"@example.com\"");
    if (postgresql()) {
      SqlFragment haystack = ascii_lower(read(*operand, AttrView::shown));
      SqlFragment wanted = ascii_lower(SqlFragment{}.bind(*needle).sql("::text"));
      return false_if_null(SqlFragment{}.sql("strpos(").append(haystack).sql(", ").append(wanted).sql(") > 0"));
    }
    return false_if_null(
        SqlFragment{}.sql("instr(lower(").append(operand->sql).sql("), lower(").bind(*needle).sql(")) > 0"));
  }

  // A subject that has a value to compare, not a condition of its own.
  Compiled<Operand> comparable(const ast::Subject& s) {
    auto operand = subject(s);
    if (operand && operand->type == ValueType::condition)
      return error_at(operand->col, "'" + operand->name + "' is a condition and cannot be compared; use it on its own or with 'not'");
    return operand;
  }

  Compiled<Operand> subject(const ast::Subject& s) {
    if (const auto* name = std::get_if<ast::Name>(&s)) {
      if (const FieldDef* field = find_field(name->text))
        return Operand{field->sql(ctx_), field->type, name->text, name->col, std::nullopt};
      return Operand{attribute_value(name->text, ctx_.dialect), ValueType::any, name->text, name->col, name->text};
    }
    const auto& call = std::get<ast::Call>(s);
    const FunctionDef* function = find_function(call.function.text);
    if (!function) return error_at(call.function.col, "unknown function '" + call.function.text + "'");
    if (call.args.size() != function->params.size()) {
      size_t n = function->params.size();
      return error_at(call.function.col, "'" + call.function.text + "' takes " + std::to_string(n) + " argument" +
                                             (n == 1 ? "" : "s") + " but got " + std::to_string(call.args.size()));
    }
    std::vector<Arg> args;
    for (size_t i = 0; i < call.args.size(); ++i) {
      auto arg = argument(call, i, function->params[i]);
      if (!arg) return std::unexpected(arg.error());
      args.push_back(std::move(*arg));
    }
    // A function whose value is `any` is an attribute lookup by its argument (attr).
    std::optional<std::string> attribute;
    if (function->result == ValueType::any) attribute = args.at(0).text;
    return Operand{function->sql(ctx_, args), function->result, call.function.text, call.function.col,
                   std::move(attribute)};
  }

  Compiled<Arg> argument(const ast::Call& call, size_t index, ArgType type) {
    const ast::Literal& literal = call.args[index];
    const auto* text = std::get_if<std::string>(&literal.value);
    if (!text) {
      std::string example = type == ArgType::duration ? "\"30d\"" : "\"vip\"";
      return error_at(literal.col, "argument " + std::to_string(index + 1) + " of '" + call.function.text +
                                       "' must be a string, e.g. " + call.function.text + "(" + example + ")");
    }
    Arg arg{*text, 0};
    if (type == ArgType::duration) {
      auto seconds = util::parse_duration_seconds(*text);
      if (!seconds) return error_at(literal.col, "invalid duration \"" + *text + "\" (write e.g. \"30d\", \"12h\", \"2w\")");
      arg.seconds = *seconds;
    }
    return arg;
  }

  // The literal as a value to bind, checked against the operand's type.
  Compiled<store::SqlValue> bindable(const Operand& operand, const ast::Literal& literal) {
    const auto* text = std::get_if<std::string>(&literal.value);
    switch (operand.type) {
      case ValueType::number:
        if (text) return error_at(literal.col, "'" + operand.name + "' is a number; compare it with a number, not \"" + *text + "\"");
        break;
      case ValueType::text:
        if (!text) return error_at(literal.col, "'" + operand.name + "' is text; write the value in quotes");
        break;
      case ValueType::time:
        if (text) {
          auto t = util::parse_iso8601(*text);
          if (!t) return error_at(literal.col, "'" + operand.name + "' is a time; write an ISO-8601 date such as \"2026-03-01\" or Unix seconds");
          return store::SqlValue{*t};
        }
        break;
      case ValueType::any:
      case ValueType::condition: break;
    }
    return std::visit(
        [](const auto& v) -> store::SqlValue {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, bool>) return std::int64_t{v ? 1 : 0};
          else return v;
        },
        literal.value);
  }

  bool postgresql() const { return ctx_.dialect == store::Dialect::postgresql; }

  // Wraps a possibly-NULL comparison so that NULL (a missing value) reads as false.
  SqlFragment false_if_null(const SqlFragment& comparison) const {
    if (postgresql()) return SqlFragment{}.sql("COALESCE(").append(comparison).sql(", FALSE)");
    return SqlFragment{}.sql("IFNULL(").append(comparison).sql(", 0)");
  }

  // The operand as it is compared in `view`: an attribute is read per view on PostgreSQL; on
  // SQLite, and for every built-in field, there is one reading.
  SqlFragment read(const Operand& operand, AttrView view) const {
    if (operand.attribute && postgresql()) return attribute_value(*operand.attribute, ctx_.dialect, view);
    return operand.sql;
  }

  // A literal's marker. PostgreSQL takes a marker's type from the column it meets, so a real
  // number says it is one (`frequency > 2.5` would not read 2.5 as a bigint).
  SqlFragment marker(const store::SqlValue& value) const {
    SqlFragment f;
    f.bind(value);
    if (postgresql() && std::holds_alternative<double>(value)) f.sql("::numeric");
    return f;
  }

  SqlFragment in_list(const SqlFragment& value, const std::vector<store::SqlValue>& values) const {
    SqlFragment list = SqlFragment{}.append(value).sql(" IN (");
    for (size_t i = 0; i < values.size(); ++i) {
      if (i) list.sql(", ");
      list.append(marker(values[i]));
    }
    return list.sql(")");
  }

  // The operand on its own as a condition: present and not 0, '' or false (compiler.hpp).
  SqlFragment truthy(const Operand& operand) const {
    if (!postgresql())
      return false_if_null(SqlFragment{}.sql("(").append(operand.sql).sql(") NOT IN (0, '', 'false')"));
    switch (operand.type) {
      case ValueType::any:
        // jsonb compares numbers by value ('0.0' is '0'); JSON null is SQLite's NULL, false.
        return false_if_null(SqlFragment{}.append(read(operand, AttrView::json))
                                 .sql(" NOT IN ('0', 'false', '\"\"', '\"false\"', 'null')"));
      case ValueType::text:
        return false_if_null(SqlFragment{}.sql("(").append(operand.sql).sql(") NOT IN ('', 'false')"));
      case ValueType::number:
      case ValueType::time:
      case ValueType::condition: break;
    }
    return false_if_null(SqlFragment{}.sql("(").append(operand.sql).sql(") <> 0"));
  }

  CompileContext ctx_;
};

}  // namespace

std::expected<CompiledSegment, SegmentError> compile_segment(const ast::Node& expression, util::UnixTime now,
                                                            store::Dialect dialect) {
  auto sql = Compiler(CompileContext{now, dialect}).condition(expression);
  if (!sql) return std::unexpected(sql.error());
  return CompiledSegment{std::move(sql->text), std::move(sql->params)};
}

std::expected<CompiledSegment, SegmentError> compile_segment(std::string_view expression, util::UnixTime now,
                                                            store::Dialect dialect) {
  auto tree = parse_segment(expression);
  if (!tree) return std::unexpected(tree.error());
  return compile_segment(*tree, now, dialect);
}

}  // namespace campaignd::segments
