// A provider adapter: `webhooks/{provider}.yaml` parsed into the mapping from that provider's
// webhook payload to campaignd response events, plus the name of its signature scheme. Adding a
// provider is adding a yaml file; the signature schemes themselves are code (signature.hpp).
//
// The mapping language, in full:
//
//   provider: sendgrid              # optional; must equal the file name (the route's {provider})
//   max_body_bytes: 1048576         # optional; a larger post gets 413
//   signature:
//     scheme: sendgrid-ecdsa        # sendgrid-ecdsa | mailgun-hmac | postmark-basic | sns-rsa
//                                   # | standard-webhooks | none
//     secret_env: MY_VAR            # optional; default CAMPAIGND_WEBHOOK_<PROVIDER>_SECRET
//     tolerance: 5m                 # optional; how old a signed timestamp may be (0 = unchecked)
//     certificate_file: aws.pem     # sns-rsa: PEM certificate(s), a name or a list, relative to
//                                   #   the webhooks folder; else the secret variable names one
//     topic_arns: [arn:aws:sns:...] # sns-rsa, optional: the only topics accepted
//     confirm_subscriptions: false  # sns-rsa: GET the SubscribeURL (an amazonaws.com https URL)
//   events:
//     root: $                       # where the events are: an array (one event per element) or
//                                   #   one object; `$` here is the whole body
//     decode: json                  # optional: the root is a string holding JSON (SNS Message)
//     kind: $.event                 # the provider's event type
//     kinds:                        # provider type (case-insensitive) -> what it becomes:
//       processed: ignore           #   skipped, counted as "ignored"
//       open: opened                #   one of delivered deferred bounced opened clicked replied
//                                   #   unsubscribed complained converted
//       bounce:                     #   or rules, the first whose `when` holds wins; none = ignore
//         - when: {$.type: blocked} #   every path must reach one of the listed values
//           kind: bounced
//           bounce_type: soft       #   hard | soft (bounced only; hard when left out)
//         - {kind: bounced, bounce_type: hard}
//     recipient: $.email            # the fields; each is a source or a list of sources, and the
//     message_id: $.smtp-id         #   first that reaches a value wins. A source is a path
//     time: $.timestamp             #   (json_path.hpp: `$` the event, `@` the body) or
//     time_format: auto             #   `header:NAME`. time_format: auto | unix | unix_ms | iso8601
//     reason: [$.reason, $.response]
//     event_id: $.sg_event_id       # the idempotency key; when absent, a hash of the event
//     url: $.url
//     user_agent: $.useragent
//     machine: $.sg_machine_open    # true / "true" / 1 = a machine (prefetch, scanner) event
//
// A recipient source that reaches several addresses ([*]) makes one event per address; another
// field that reaches as many values is paired with them by position (SES bouncedRecipients).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "daemon/tracking/webhooks/json_path.hpp"
#include "daemon/tracking/webhooks/signature.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::tracking::webhooks {

// A path into the payload, or a request header (lower-cased name).
struct FieldSource {
  std::optional<JsonPath> path;
  std::string header;
};
// Alternatives, first that reaches a value wins; empty = the field is not mapped.
using FieldSpec = std::vector<FieldSource>;

enum class TimeFormat { auto_detect, unix_seconds, unix_ms, iso8601 };

struct KindRule {
  struct Condition {
    JsonPath path;
    std::vector<std::string> values;
  };
  std::vector<Condition> when;  // all must hold
  std::string kind;             // one of ours, or "ignore"
  std::optional<std::string> bounce_type;
};

struct SignatureSettings {
  Scheme scheme = Scheme::none;
  std::string secret_env;
  std::int64_t tolerance_s = 0;
  std::vector<std::string> certificate_files;  // resolved against the adapter's folder
  std::vector<std::string> topic_arns;
  bool confirm_subscriptions = false;
};

struct Adapter {
  std::string provider;
  std::string file;
  std::size_t max_body_bytes = 1 << 20;
  SignatureSettings signature;

  JsonPath root;
  bool decode_root = false;
  FieldSpec kind;
  std::map<std::string, std::vector<KindRule>> kinds;  // keyed by lower-cased provider type
  FieldSpec recipient, message_id, time, reason, event_id, url, user_agent, machine;
  TimeFormat time_format = TimeFormat::auto_detect;
};

// "CAMPAIGND_WEBHOOK_<PROVIDER>_SECRET", non-alphanumerics as '_'.
std::string default_secret_env(const std::string& provider);

// Parses adapter text; `file` names it in errors and decides the provider name (its stem).
// Every problem is appended to `errors` as file:line:col; nullopt when there was any.
std::optional<Adapter> parse_adapter(const std::string& text, const std::string& file, std::vector<PlacedError>& errors);
std::optional<Adapter> load_adapter(const std::string& path, std::vector<PlacedError>& errors);

}  // namespace campaignd::tracking::webhooks
