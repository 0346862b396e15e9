// Unsubscribes from a signed link. GET shows the preference page (it changes nothing: mail
// scanners fetch links); POST with `List-Unsubscribe=One-Click` (RFC 8058) or the page's
// `scope=all` unsubscribes from everything; `scope=topic` leaves only the campaign's topic.
// Every change is committed before the answer; a forged or altered token gets 404.
#pragma once

#include <optional>
#include <string>

#include "daemon/http/http_types.hpp"
#include "daemon/render/page_template.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/token.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking {

enum class UnsubscribeOutcome { done, unknown_token, store_error };

class UnsubscribeService {
 public:
  // Loads templates_dir/unsubscribe-page.html.mustache and unsubscribed-page.html.mustache.
  static Result<std::unique_ptr<UnsubscribeService>> create(store::Store& store, EventRecorder& recorder,
                                                            const TokenSigner& signer, const util::Clock& clock,
                                                            const std::string& templates_dir);

  // GET /u/{token}
  http::HttpResponse page(const http::HttpRequest& request);
  // POST /u/{token}
  http::HttpResponse post(const http::HttpRequest& request);

  // Unsubscribes from everything (topic empty) or leaves one topic.
  UnsubscribeOutcome unsubscribe(const std::string& token, const std::string& source,
                                 const std::optional<std::string>& topic = std::nullopt);

  UnsubscribeService(store::Store& store, EventRecorder& recorder, const TokenSigner& signer,
                     const util::Clock& clock, render::PageTemplate page, render::PageTemplate done)
      : store_(store), recorder_(recorder), signer_(signer), clock_(clock), page_(std::move(page)),
        done_(std::move(done)) {}

 private:
  std::optional<std::int64_t> send_id_of(const std::string& token) const;
  // The campaign topic of a send, or nullopt; an error when the send is unknown.
  Result<std::optional<std::string>> topic_of_send(std::int64_t send_id);

  store::Store& store_;
  EventRecorder& recorder_;
  const TokenSigner& signer_;
  const util::Clock& clock_;
  render::PageTemplate page_;
  render::PageTemplate done_;
};

}  // namespace campaignd::tracking
