// JsonPath: the path grammar, evaluation over both origins, and malformed paths.
#include <doctest/doctest.h>

#include "daemon/tracking/webhooks/json_path.hpp"

using namespace campaignd::tracking::webhooks;
using nlohmann::json;

namespace {

JsonPath path(const std::string& text) {
  auto p = JsonPath::parse(text);
  REQUIRE_MESSAGE(p, (p ? "" : p.error()));
  return std::move(*p);
}

std::vector<std::string> texts(const JsonPath& p, const json& event, const json& doc) {
  std::vector<std::string> out;
  for (const json* v : p.evaluate(event, doc)) out.push_back(v->is_string() ? v->get<std::string>() : v->dump());
  return out;
}

}  // namespace

TEST_CASE("json path: members with dashes, indexes, wildcards and filters") {
  json doc = json::parse(R"({
    "event-data": {"message": {"headers": {"message-id": "abc@x"}}, "n": 3},
    "list": [{"emailAddress": "a@x", "code": 1}, {"emailAddress": "b@x"}, {"other": true}],
    "headers": [{"name": "From", "value": "f@x"}, {"name": "Message-ID", "value": "<m@x>"}],
    "dotted": {"a.b": "dot"},
    "flat": ["p", "q"]
  })");
  CHECK(texts(path("$.event-data.message.headers.message-id"), doc, doc) == std::vector<std::string>{"abc@x"});
  CHECK(texts(path("$.list[1].emailAddress"), doc, doc) == std::vector<std::string>{"b@x"});
  CHECK(texts(path("$.list[*].emailAddress"), doc, doc) == std::vector<std::string>{"a@x", "b@x"});
  CHECK(texts(path("$.headers[?name=message-id].value"), doc, doc) == std::vector<std::string>{"<m@x>"});
  CHECK(texts(path("$.dotted['a.b']"), doc, doc) == std::vector<std::string>{"dot"});
  CHECK(texts(path("$.flat[*]"), doc, doc) == std::vector<std::string>{"p", "q"});
  CHECK(texts(path("$.event-data.n"), doc, doc) == std::vector<std::string>{"3"});
  CHECK(path("$.list[*].emailAddress").fans_out());
  CHECK_FALSE(path("$.list[0].emailAddress").fans_out());

  // Missing things are no value, not an error.
  CHECK(path("$.nope.deeper").evaluate(doc, doc).empty());
  CHECK(path("$.list[9]").evaluate(doc, doc).empty());
  CHECK(path("$.flat.member").evaluate(doc, doc).empty());
  CHECK(path("$.list[0]").first(doc, doc) != nullptr);
  CHECK(path("$.list[7]").first(doc, doc) == nullptr);
}

TEST_CASE("json path: $ is the event, @ the whole body") {
  json doc = json::parse(R"({"MessageId": "sns-1", "Message": {"eventType": "Open"}})");
  const json& event = doc["Message"];
  CHECK(texts(path("$.eventType"), event, doc) == std::vector<std::string>{"Open"});
  CHECK(texts(path("@.MessageId"), event, doc) == std::vector<std::string>{"sns-1"});
  CHECK(path("$.MessageId").evaluate(event, doc).empty());
  CHECK(path("@.x").origin() == JsonPath::Origin::document);
  CHECK(texts(path("$"), event, doc).size() == 1);
}

TEST_CASE("json path: malformed paths name the column") {
  struct Case {
    const char* text;
    const char* error;
  };
  for (const auto& c : {Case{"", "column 1"}, Case{"event", "column 1"}, Case{"$.", "column 3"},
                        Case{"$.a[", "column 4: expected ']'"}, Case{"$.a[x]", "column 5"},
                        Case{"$.a[-1]", "column 5"}, Case{"$.a[?=v]", "column 5"}, Case{"$.a[?n=]", "column 5"},
                        Case{"$.a['b]", "column 4"}, Case{"$x", "column 2: unexpected 'x'"}}) {
    CAPTURE(c.text);
    auto p = JsonPath::parse(c.text);
    REQUIRE_FALSE(p);
    CHECK(p.error().find(c.error) != std::string::npos);
  }
}

TEST_CASE("json path: scalar_text") {
  CHECK(scalar_text(json("x")) == "x");
  CHECK(scalar_text(json(true)) == "true");
  CHECK(scalar_text(json(12)) == "12");
  CHECK(scalar_text(json(nullptr)).empty());
  CHECK(scalar_text(json::array({1})).empty());
}
