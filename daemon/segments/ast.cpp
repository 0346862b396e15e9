// Renders a parsed segment expression as an S-expression, to make parse trees easy to check.
#include "daemon/segments/ast.hpp"

#include <array>
#include <cstdio>

namespace campaignd::segments::ast {

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

std::string render(const Literal& literal) {
  return std::visit(Overloaded{
                        [](std::int64_t v) { return std::to_string(v); },
                        [](double v) {
                          std::array<char, 32> buf{};
                          std::snprintf(buf.data(), buf.size(), "%g", v);
                          return std::string(buf.data());
                        },
                        [](const std::string& v) { return "\"" + v + "\""; },
                        [](bool v) { return std::string(v ? "true" : "false"); },
                    },
                    literal.value);
}

std::string render(const Subject& subject) {
  return std::visit(Overloaded{
                        [](const Name& name) { return name.text; },
                        [](const Call& call) {
                          std::string out = call.function.text + "(";
                          for (size_t i = 0; i < call.args.size(); ++i) out += (i ? ", " : "") + render(call.args[i]);
                          return out + ")";
                        },
                    },
                    subject);
}

std::string_view symbol(CompareOp op) {
  switch (op) {
    case CompareOp::eq: return "=";
    case CompareOp::ne: return "!=";
    case CompareOp::lt: return "<";
    case CompareOp::le: return "<=";
    case CompareOp::gt: return ">";
    case CompareOp::ge: return ">=";
  }
  return "?";
}

}  // namespace

std::string to_string(const Node& node) {
  return std::visit(
      Overloaded{
          [](const Junction& j) {
            std::string out = j.kind == Junction::Kind::all ? "(and" : "(or";
            for (const Node& term : j.terms) out += " " + to_string(term);
            return out + ")";
          },
          [](const Not& n) { return "(not " + to_string(*n.operand) + ")"; },
          [](const Compare& c) {
            return "(" + std::string(symbol(c.op)) + " " + render(c.subject) + " " + render(c.value) + ")";
          },
          [](const InList& in) {
            std::string out = std::string(in.negated ? "(not-in " : "(in ") + render(in.subject) + " [";
            for (size_t i = 0; i < in.values.size(); ++i) out += (i ? " " : "") + render(in.values[i]);
            return out + "])";
          },
          [](const Contains& c) { return "(contains " + render(c.subject) + " " + render(c.needle) + ")"; },
          [](const Test& t) { return render(t.subject); },
      },
      node.kind);
}

}  // namespace campaignd::segments::ast
