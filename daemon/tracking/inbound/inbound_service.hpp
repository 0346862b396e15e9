// POST /webhooks/inbound: mail that comes back to us, delivered by an inbound relay as a raw
// RFC 5322 message (Content-Type message/rfc822 or text/plain, or JSON {"raw": ...}), or as a
// Mailgun route / SendGrid Inbound Parse post (raw MIME in `body-mime` / `email` when the relay
// sends it, else parsed fields). Each message becomes events through the EventRecorder:
//   delivery status notification -> bounced (hard | soft) per failed recipient, deferred per
//                                   delayed one, delivered per delivered one
//   ARF feedback report          -> complained
//   automatic reply              -> auto_replied (not a reply: reports ignore it)
//   anything else                -> replied, with the new text as a snippet
// A policy block (x.7.x, spam/reputation) is recorded as bounced with bounce_type "soft" and
// data.policy = true: the recorder suppresses on "hard" only at once.
// Replies are tied to their send by In-Reply-To, then References (last first), then a per-send
// reply address (reply_address.hpp) among the recipients, then the sender's address as a
// contact; a reply or auto-reply that matches nothing is answered but not recorded.
// The idempotency key is "inbound:" + the incoming Message-ID (sha256 of the content without
// one), so a relay's retry records nothing twice.
//
// Thread-safe: handle() may run on several HTTP threads; reads use a connection per call.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "daemon/http/http_types.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/inbound/mail_parser.hpp"
#include "daemon/tracking/token.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::tracking::inbound {

// One incoming message, whatever form the relay posted it in.
struct InboundMail {
  ParsedMessage message;
  std::string identity;                          // hashed for the idempotency key when no Message-ID
  std::vector<std::string> envelope_recipients;  // RCPT TO as the relay reports it
  std::string envelope_sender;                   // MAIL FROM as the relay reports it ("" = unknown)
  std::optional<std::string> stripped_text;      // the relay's own quote-stripped text (Mailgun)
};

// Reads the request body in any accepted form; an error names what is wrong with it.
Result<InboundMail> read_inbound_request(const http::HttpRequest& request, const ParseLimits& limits = {});

struct Classification {
  std::string kind;  // the first event's kind, or "ignored"
  std::vector<ResponseEvent> events;
  bool matched = false;  // for replies, known before recording
  std::string matched_by;  // in-reply-to | references | reply-address | sender | ""
};

class InboundService {
 public:
  InboundService(EventRecorder& recorder, const TokenSigner& signer, store::Store& store, const util::Clock& clock)
      : recorder_(recorder), signer_(signer), store_(store), clock_(clock) {}

  http::HttpResponse handle(const http::HttpRequest& request);

  // The events one message yields (reads the store to match replies); no writes.
  Result<Classification> classify(const InboundMail& mail);

 private:
  Result<Classification> classify_reply(const InboundMail& mail, bool automatic, const std::string& auto_reason,
                                        const std::string& event_id);
  std::optional<std::int64_t> send_from_recipients(const InboundMail& mail) const;
  // The send of an `unsubscribe+TOKEN@…` recipient (our List-Unsubscribe mailto:), if any.
  std::optional<std::int64_t> unsubscribe_send(const InboundMail& mail) const;

  EventRecorder& recorder_;
  const TokenSigner& signer_;
  store::Store& store_;
  const util::Clock& clock_;
};

}  // namespace campaignd::tracking::inbound
