// Adapter files: the shipped five parse; every kind of mistake is reported at its file:line:col.
#include <doctest/doctest.h>

#include "daemon/tracking/webhooks/adapter.hpp"
#include "daemon/tracking/webhooks/webhook_service.hpp"
#include "tests/unit/tracking/webhooks/webhook_test_support.hpp"

using namespace campaignd;
using namespace campaignd::tracking::webhooks;

namespace {

std::string joined(const std::vector<PlacedError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.to_string() + "\n";
  return out;
}

// Parses `text` as webhooks/acme.yaml and returns the errors.
std::vector<PlacedError> errors_of(const std::string& text, const std::string& file = "webhooks/acme.yaml") {
  std::vector<PlacedError> errors;
  auto a = parse_adapter(text, file, errors);
  CHECK(a.has_value() == errors.empty());
  return errors;
}

const char* kMinimal = R"(signature: {scheme: none}
events:
  kind: $.type
  kinds: {sent: delivered}
  recipient: $.to
)";

}  // namespace

TEST_CASE("adapter: the shipped adapters parse") {
  for (const char* name : {"sendgrid", "mailgun", "postmark", "ses", "standard"}) {
    CAPTURE(name);
    std::vector<PlacedError> errors;
    auto path = (webhook_testing::source_dir() / "webhooks" / (std::string(name) + ".yaml")).string();
    auto a = load_adapter(path, errors);
    CHECK_MESSAGE(errors.empty(), joined(errors));
    REQUIRE(a);
    CHECK(a->provider == name);
    CHECK(a->signature.secret_env == default_secret_env(name));
    CHECK_FALSE(a->kinds.empty());
    CHECK(validate_file(path, errors));
  }
}

TEST_CASE("adapter: what the shipped files say") {
  std::vector<PlacedError> errors;
  auto mg = load_adapter((webhook_testing::source_dir() / "webhooks/mailgun.yaml").string(), errors);
  REQUIRE(mg);
  CHECK(mg->signature.scheme == Scheme::mailgun_hmac);
  CHECK(mg->signature.tolerance_s == 300);
  CHECK(mg->root.text() == "$.event-data");
  REQUIRE(mg->kinds.contains("failed"));
  CHECK(mg->kinds.at("failed").size() == 2);
  CHECK(mg->kinds.at("failed")[0].bounce_type == std::optional<std::string>("hard"));

  auto ses = load_adapter((webhook_testing::source_dir() / "webhooks/ses.yaml").string(), errors);
  REQUIRE(ses);
  CHECK(ses->signature.scheme == Scheme::sns_rsa);
  CHECK(ses->decode_root);
  CHECK_FALSE(ses->signature.confirm_subscriptions);
  CHECK(ses->kinds.contains("bounce"));  // keys are matched case-insensitively
  CHECK(ses->recipient.size() == 5);
}

TEST_CASE("adapter: defaults and secret variable names") {
  CHECK(default_secret_env("mailgun") == "CAMPAIGND_WEBHOOK_MAILGUN_SECRET");
  CHECK(default_secret_env("my-esp") == "CAMPAIGND_WEBHOOK_MY_ESP_SECRET");
  std::vector<PlacedError> errors;
  auto a = parse_adapter(kMinimal, "webhooks/acme.yaml", errors);
  REQUIRE(a);
  CHECK(a->provider == "acme");
  CHECK(a->root.text() == "$");
  CHECK(a->max_body_bytes == (1u << 20));
  CHECK(a->time_format == TimeFormat::auto_detect);

  a = parse_adapter(std::string(kMinimal) + "max_body_bytes: 4096\n", "webhooks/acme.yaml", errors);
  REQUIRE(a);
  CHECK(a->max_body_bytes == 4096);
  a = parse_adapter(R"(signature: {scheme: mailgun-hmac, secret_env: MY_KEY, tolerance: 2m}
events: {kind: $.t, kinds: {x: opened}, message_id: [header:X-Msg, $.m]}
)",
                    "acme.yaml", errors);
  REQUIRE(a);
  CHECK(a->signature.secret_env == "MY_KEY");
  CHECK(a->signature.tolerance_s == 120);
  REQUIRE(a->message_id.size() == 2);
  CHECK(a->message_id[0].header == "x-msg");
  CHECK(a->message_id[1].path->text() == "$.m");
}

TEST_CASE("adapter: certificate files resolve against the adapter's folder") {
  std::vector<PlacedError> errors;
  auto a = parse_adapter(R"(signature: {scheme: sns-rsa, certificate_file: [a.pem, /etc/b.pem], topic_arns: [arn:x]}
events: {kind: $.t, kinds: {x: opened}, recipient: $.r}
)",
                         "/srv/hooks/ses.yaml", errors);
  REQUIRE_MESSAGE(a, joined(errors));
  CHECK(a->signature.certificate_files == std::vector<std::string>{"/srv/hooks/a.pem", "/etc/b.pem"});
  CHECK(a->signature.topic_arns == std::vector<std::string>{"arn:x"});
}

TEST_CASE("adapter: mistakes carry file:line:col") {
  struct Case {
    std::string text;
    std::string expected;  // a substring of one error's to_string()
  };
  const std::vector<Case> cases = {
      {"signature: {scheme: none}\nevents: [\n", "webhooks/acme.yaml:"},  // YAML syntax
      {"- a\n- b\n", "webhooks/acme.yaml:1:1: a webhook adapter is a mapping"},
      {"events:\n  kind: $.t\n  kinds: {a: opened}\n  recipient: $.r\n", "webhooks/acme.yaml:1:1: the adapter needs signature"},
      {"signature: {scheme: hmac-md5}\nevents: {kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "webhooks/acme.yaml:1:21: unknown signature scheme 'hmac-md5'"},
      {"signature: {scheme: none, tolerance: soon}\nevents: {kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "webhooks/acme.yaml:1:38: tolerance must be a duration"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds:\n    a: openned\n  recipient: $.r\n",
       "webhooks/acme.yaml:5:8: unknown kind 'openned'"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds: {a: opened}\n  recipient: $.r[\n",
       "webhooks/acme.yaml:5:17: recipient: expected ']'"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds: {a: opened}\n  recipent: $.r\n",
       "webhooks/acme.yaml:5:3: unknown key 'recipent' in events"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds: {a: opened}\n",
       "events needs recipient or message_id"},
      {"signature: {scheme: none}\nevents:\n  kinds: {a: opened}\n  recipient: $.r\n", "events needs kind"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  recipient: $.r\n", "events needs kinds"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds:\n    a: {kind: opened, bounce_type: hard}\n  recipient: $.r\n",
       "webhooks/acme.yaml:5:36: bounce_type applies only to kind bounced"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds:\n    a: {kind: bounced, bounce_type: medium}\n  recipient: $.r\n",
       "bounce_type must be hard or soft"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds:\n    a: [{when: {$.x: y}}]\n  recipient: $.r\n",
       "webhooks/acme.yaml:5:9: kinds.a: a rule needs a kind"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds:\n    a: {when: {x: y}, kind: opened}\n  recipient: $.r\n",
       "webhooks/acme.yaml:5:16: when: a path starts with '$' or '@'"},
      {"signature: {scheme: none}\nevents:\n  kind: $.t\n  kinds: {a: opened}\n  recipient: $.r\n  time_format: epoch\n",
       "webhooks/acme.yaml:6:16: time_format must be"},
      {"provider: other\nsignature: {scheme: none}\nevents: {kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "webhooks/acme.yaml:1:11: provider 'other' must match the file name 'acme'"},
      {"signature: {scheme: none, certificate_file: x.pem}\nevents: {kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "belong to the sns-rsa scheme"},
      {"signature: {scheme: none}\nevents: {root: '@.x', kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "root: '$' already means the whole body"},
      {"signature: {scheme: none}\nevents: {decode: xml, kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "decode must be json"},
      {"signature: {scheme: none}\nmax_body_bytes: lots\nevents: {kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "webhooks/acme.yaml:2:17: max_body_bytes must be"},
      {"signature: {scheme: none, secret_env: 'my var'}\nevents: {kind: $.t, kinds: {a: opened}, recipient: $.r}\n",
       "secret_env must be an environment variable name"},
      {"signature: {scheme: none}\nevents: {kind: $.t, kinds: {a: opened, A: clicked}, recipient: $.r}\n",
       "kinds lists 'A' twice"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto errors = errors_of(c.text);
    std::string all = joined(errors);
    CHECK_MESSAGE(all.find(c.expected) != std::string::npos, all);
  }
}

TEST_CASE("adapter: several mistakes are all reported") {
  auto errors = errors_of(R"(signature: {scheme: nope}
events:
  kind: $.t
  kinds: {a: bogus}
  recipient: $.r[
)");
  CHECK(errors.size() == 3);
}

TEST_CASE("adapter: reserved and odd provider names") {
  CHECK(joined(errors_of(kMinimal, "webhooks/inbound.yaml")).find("'inbound' is taken") != std::string::npos);
  CHECK(joined(errors_of(kMinimal, "webhooks/Acme Corp.yaml")).find("lower-case letters") != std::string::npos);
}

TEST_CASE("adapter: validate_file reports unreadable files and certificates") {
  campaignd::testing::TempFolder tmp;
  std::vector<PlacedError> errors;
  CHECK_FALSE(validate_file(tmp.file("missing.yaml"), errors));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].message == "cannot read the file");

  errors.clear();
  tmp.write("not-a-cert.pem", "hello\n");
  auto path = tmp.write("ses.yaml", R"(signature: {scheme: sns-rsa, certificate_file: [not-a-cert.pem, absent.pem]}
events: {kind: $.t, kinds: {a: opened}, recipient: $.r}
)");
  CHECK_FALSE(validate_file(path, errors));
  CHECK(errors.size() == 2);
  CHECK(joined(errors).find("not a PEM certificate") != std::string::npos);
  CHECK(joined(errors).find("cannot read") != std::string::npos);
}
