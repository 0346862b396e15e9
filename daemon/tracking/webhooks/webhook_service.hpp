// POST /webhooks/{provider}: checks a provider's post with the scheme its adapter names, maps it
// to response events and records them, all before answering.
//
// Answers: 200 {"accepted": n, "duplicates": d, "ignored": i} once the events are committed
// (group commit through the store's WriteQueue); 404 unknown provider; 413 body over the
// adapter's max_body_bytes; 401 bad or missing signature, stale timestamp, replayed Mailgun token,
// or a signed scheme whose secret is not configured (never accepted unsigned); 400 malformed
// body, with the reason; 503 when the store fails, so the provider retries. Amazon SNS
// SubscriptionConfirmation: verified, its SubscribeURL logged, and followed only when the
// adapter says confirm_subscriptions: true.
//
// Thread-safe: handle() may run on many HTTP threads at once; the service is immutable after
// load() except for set_subscription_confirmer(), which belongs before serving starts.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "daemon/http/http_types.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/webhooks/adapter.hpp"
#include "daemon/tracking/webhooks/signature.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::tracking::webhooks {

class WebhookService {
 public:
  // Loads every *.yaml / *.yml of `webhooks_dir` (a missing folder means no providers) and each
  // adapter's secret from its environment variable. A file with errors is reported in `errors`
  // (file:line:col) and left out; the others still load. An error only when the folder cannot
  // be listed.
  static Result<WebhookService> load(const std::string& webhooks_dir, EventRecorder& recorder, const util::Clock& clock,
                                     store::Store& store, std::vector<PlacedError>& errors);

  http::HttpResponse handle(const std::string& provider, const http::HttpRequest& request);

  // The GET that confirms an SNS subscription (default: libcurl, confirm_sns_subscription).
  using Confirmer = std::function<Status(const std::string& subscribe_url)>;
  void set_subscription_confirmer(Confirmer confirmer) { confirmer_ = std::move(confirmer); }

  std::vector<std::string> providers() const;

 private:
  struct Credentials {
    std::string problem;  // non-empty: not usable, and why
    std::string secret;   // Mailgun signing key, Postmark user:password, Standard Webhooks key
    std::optional<PublicKey> public_key;     // SendGrid
    std::vector<PublicKey> certificates;     // SNS
  };
  struct Provider {
    Adapter adapter;
    Credentials credentials;
  };
  struct Counts {
    int accepted = 0, duplicates = 0;
    bool replayed = false;
  };

  WebhookService(EventRecorder& recorder, const util::Clock& clock, store::Store& store)
      : recorder_(&recorder), clock_(&clock), store_(&store) {}

  static Credentials load_credentials(const Adapter& adapter, std::vector<PlacedError>& errors);
  http::HttpResponse handle_sns_control(const Provider& p, const nlohmann::json& body);
  // One write job: the nonce (if any) and every event, committed together.
  Result<Counts> record(const Provider& p, const std::vector<ResponseEvent>& events,
                        const std::optional<std::string>& nonce);

  std::map<std::string, std::shared_ptr<const Provider>> providers_;
  EventRecorder* recorder_;
  const util::Clock* clock_;
  store::Store* store_;
  Confirmer confirmer_;
  std::shared_ptr<std::atomic<util::UnixTime>> last_nonce_purge_ = std::make_shared<std::atomic<util::UnixTime>>(0);
};

// For `campaignd validate`: the adapter file parses, and its certificate files (sns-rsa) read.
Status validate_file(const std::string& path, std::vector<PlacedError>& errors);

}  // namespace campaignd::tracking::webhooks
