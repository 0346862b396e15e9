// The seam between the sender and the wire: a Transport hands out Sessions that deliver one
// message to one recipient at a time and say, per message, whether to count it sent, retry
// it later or give up. Maildir (the embedded default) and SMTP relays sit behind it, and
// tests put fault-injecting servers behind it.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "daemon/util/result.hpp"

namespace campaignd::transport {

// One recipient per transaction: with several RCPT TO a single refusal aborts the whole
// message and there is no per-recipient answer (STANDARDS.md, "SMTP and libcurl").
struct Envelope {
  std::string mail_from;  // bare address, no angle brackets; empty means the null path <>
  std::string rcpt_to;    // bare address, no angle brackets
  bool operator==(const Envelope&) const = default;
};

// sent: the server (or the disk) took responsibility for the message; never reported without
// a 250 after the final dot. retry: 4xx, connection or disk trouble, anything ambiguous.
// failed: a permanent refusal of this message or recipient (5xx); do not send it again.
// withheld: the caller's go-ahead said no; nothing of the message was delivered (no attempt).
enum class Outcome { sent, retry, failed, withheld };

// Which part of the SMTP dialogue the final reply answered; `none` when no reply came at all
// (refused or dropped connection, timeout before any answer). The sender tells a relay that is
// down (session) from a destination that throttles (rcpt) by it.
enum class ReplyStage { none, session, mail, rcpt, data, end_of_data };

struct SendResult {
  Outcome outcome = Outcome::retry;
  int code = 0;          // the server's final reply code; 0 when there was none
  std::string enhanced;  // RFC 3463 "5.1.1" when the server gave one
  std::string reply;     // the server's text, or a local error (never a credential)
  ReplyStage stage = ReplyStage::none;
};

// What a go-ahead answers: whether the message goes, and optionally the envelope of the caller's
// next message. A session that can (SMTP with PIPELINING: opens_next()) writes that envelope's
// MAIL, RCPT and DATA right behind this message's end of data, in the same round trip (RFC 2920
// 3.1), and the next send() with that envelope starts with the server's answers on their way.
struct Handover {
  bool go = true;
  std::optional<Envelope> next;
  size_t next_size = 0;  // the next message's size in bytes, for SIZE=
  Handover(bool go_ahead = true) : go(go_ahead) {}  // NOLINT(google-explicit-constructor): a yes or no is one
};

// Asked once, when the message is about to be handed over and nothing of it is delivered yet
// (SMTP: the server answered DATA with 354 and waits for the content; maildir: the file is
// written in tmp/ but not moved into new/). It is the caller's last word, and where the sender
// waits for its previous message's outcome to be recorded, so that wait overlaps the envelope's
// round trip. No abandons the message (SMTP has no way out of DATA but closing the
// connection), and send() reports Outcome::withheld.
using GoAhead = std::function<Handover()>;

// A delivery channel owned by ONE thread at a time. It keeps its connection open between
// sends (the next message starts at MAIL FROM) and reconnects by itself after an error.
class Session {
 public:
  virtual ~Session() = default;
  // rfc5322_message is the complete message with CRLF line ends, sent byte for byte
  // (dot-stuffing is the transport's business). An empty go_ahead always goes ahead; it is not
  // asked when the message is refused before the hand-over (a 5xx to RCPT, say). After a next
  // envelope was opened, a send() of any other envelope first closes that connection: the server
  // waits for content that will not come.
  virtual SendResult send(const Envelope& envelope, std::string_view rfc5322_message, const GoAhead& go_ahead) = 0;
  SendResult send(const Envelope& envelope, std::string_view rfc5322_message) {
    return send(envelope, rfc5322_message, GoAhead());
  }
  // Whether a go-ahead's next envelope would be opened now (it is ignored otherwise).
  virtual bool opens_next() const { return false; }
};

// Thread-safe factory of Sessions; one Session per worker thread.
class Transport {
 public:
  virtual ~Transport() = default;
  // Cheap and lazy: an SMTP session connects on its first send.
  virtual Result<std::unique_ptr<Session>> open_session() = 0;
  // The url without credentials, for logs and /status.
  virtual std::string describe() const = 0;
};

struct TransportOptions {
  // Every member has an initializer so designated initializers may skip any of them.
  std::string url{};     // maildir://PATH, smtp://host[:port][/ehlo-name], smtps://host[:port][/ehlo-name]
  std::string username{};  // SMTP AUTH; overrides a user in the url
  std::string password{};
  int timeout_seconds = 60;  // connect timeout, and the longest the server may stay silent
  std::string base_dir{};    // relative maildir paths resolve against this (empty: the cwd)
};

// Parses the url and builds the transport; the error names the url (without credentials).
Result<std::unique_ptr<Transport>> make_transport(const TransportOptions& options);

// Envelope addresses end up inside protocol lines and headers: reject controls, spaces and
// angle brackets, and an empty or @-less recipient. Both transports check this first.
Status check_envelope(const Envelope& envelope);

// "scheme://user:pass@host/..." -> "scheme://host/...": for errors and describe().
std::string redact_url(std::string_view url);

}  // namespace campaignd::transport
