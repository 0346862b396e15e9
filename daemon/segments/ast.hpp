// The parsed form of a segment expression. Every node keeps the column it came from, so the
// compiler can blame the right place for a meaning error (unknown function, bad duration).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace campaignd::segments::ast {

struct Literal {
  std::variant<std::int64_t, double, std::string, bool> value;
  int col = 1;
};

// A bare name: a built-in field (email, frequency, subscribed...) or a contact attribute.
struct Name {
  std::string text;
  int col = 1;
};

struct Call {
  Name function;
  std::vector<Literal> args;
};

// What a condition looks at.
using Subject = std::variant<Name, Call>;

enum class CompareOp { eq, ne, lt, le, gt, ge };

struct Node;

// `all` = every term holds (and); `any` = at least one does (or). Flat, so a long chain of
// `and`s does not nest deeply.
struct Junction {
  enum class Kind { all, any } kind;
  std::vector<Node> terms;
};

struct Not {
  std::unique_ptr<Node> operand;  // never null
  int col = 1;
};

struct Compare {
  Subject subject;
  CompareOp op;
  int op_col = 1;
  Literal value;
};

struct InList {
  Subject subject;
  bool negated = false;  // `not in`
  int op_col = 1;
  std::vector<Literal> values;
};

struct Contains {
  Subject subject;
  int op_col = 1;
  Literal needle;
};

// A subject on its own, used as a condition: `unsubscribed`, `vip`, `has_tag("x")`.
struct Test {
  Subject subject;
};

struct Node {
  std::variant<Junction, Not, Compare, InList, Contains, Test> kind;
};

// A compact, fully parenthesised rendering, e.g. (and (= country "CA") (not unsubscribed)):
// for tests and debug logs.
std::string to_string(const Node& node);

}  // namespace campaignd::segments::ast
