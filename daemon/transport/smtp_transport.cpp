// SMTP: url parsing (libcurl's url parser), the dialogue of one Session over its connection,
// and the mapping of what the server said to sent / retry / failed.
#include "daemon/transport/smtp_transport.hpp"

#include <algorithm>
#include <chrono>
#include <optional>
#include <vector>

#include "daemon/transport/curl_handle.hpp"
#include "daemon/transport/smtp_connection.hpp"
#include "daemon/transport/smtp_reply.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::transport {

// ---------------------------------------------------------------------------------------------
// Url

namespace {

std::optional<std::string> url_part(CURLU* url, CURLUPart which, unsigned flags) {
  char* raw = nullptr;
  if (curl_url_get(url, which, &raw, flags) != CURLUE_OK || raw == nullptr) return std::nullopt;
  CurlString owned(raw);
  return std::string(owned.get());
}

bool is_loopback(std::string_view host) {
  auto lower = util::to_lower(host);
  return lower == "localhost" || lower == "[::1]" || lower.starts_with("127.");
}

bool is_ehlo_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
  });
}

}  // namespace

Result<SmtpSettings> parse_smtp_url(const TransportOptions& options) {
  auto quoted = "smtp url '" + redact_url(options.url) + "'";
  if (ensure_curl_global_init() != CURLE_OK) return fail("cannot initialise libcurl");
  CurlUrl url(curl_url());
  if (!url) return fail("out of memory parsing " + quoted);
  if (auto rc = curl_url_set(url.get(), CURLUPART_URL, options.url.c_str(), 0); rc != CURLUE_OK)
    return fail(quoted + " is not a valid url: " + curl_url_strerror(rc));

  auto scheme = util::to_lower(url_part(url.get(), CURLUPART_SCHEME, 0).value_or(""));
  if (scheme != "smtp" && scheme != "smtps") return fail(quoted + " must start with smtp:// or smtps://");
  auto host = url_part(url.get(), CURLUPART_HOST, 0);
  if (!host || host->empty()) return fail(quoted + " has no host");
  auto port = url_part(url.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT);
  if (!port) return fail(quoted + " has no usable port");
  if (url_part(url.get(), CURLUPART_QUERY, 0) || url_part(url.get(), CURLUPART_FRAGMENT, 0))
    return fail(quoted + " has a query or fragment; expected smtp://host:port[/ehlo-name]");
  // The url's path is the EHLO name ("localhost" without one, as libcurl did before us).
  auto ehlo = url_part(url.get(), CURLUPART_PATH, 0).value_or("/").substr(1);
  if (!is_ehlo_name(ehlo)) return fail(quoted + " has a path that is not a host name to use in EHLO");

  SmtpSettings settings;
  settings.curl_url = scheme + "://" + *host + ":" + *port + (ehlo.empty() ? "" : "/" + ehlo);
  settings.host = *host;
  settings.port = *port;
  settings.ehlo_name = ehlo.empty() ? "localhost" : ehlo;
  settings.implicit_tls = scheme == "smtps";
  settings.loopback = is_loopback(*host);
  settings.timeout_seconds = std::max(1, options.timeout_seconds);
  if (!options.username.empty()) {
    settings.username = options.username;
    settings.password = options.password;
  } else {
    settings.username = url_part(url.get(), CURLUPART_USER, CURLU_URLDECODE).value_or("");
    settings.password = url_part(url.get(), CURLUPART_PASSWORD, CURLU_URLDECODE).value_or("");
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------
// Dot-stuffing

void dot_stuff(std::string_view message, std::string& out) {
  out.clear();
  out.reserve(message.size() + message.size() / 256 + 8);
  size_t i = 0;
  while (i < message.size()) {
    if (message[i] == '.') out += '.';
    size_t lf = message.find('\n', i);
    size_t end = lf == std::string_view::npos ? message.size() : lf + 1;
    out.append(message.substr(i, end - i));
    i = end;
  }
  if (!message.empty() && message.back() != '\n') out += "\r\n";
  out += ".\r\n";
}

// ---------------------------------------------------------------------------------------------
// Session

struct SmtpTls {
  SslContext verified;    // smtps://, and STARTTLS when a password must not travel in clear
  SslContext unverified;  // opportunistic STARTTLS
  std::string error;      // why the contexts could not be made (then both are null)
};

namespace {

constexpr size_t max_reply_text = 1000;
// A server that talks endlessly without finishing a reply is broken, not slow.
constexpr size_t max_reply_bytes = 64 * 1024;
// Servers close idle connections (Postfix after 300 s, many after 60 s); one idle this long is
// replaced rather than risk a message on a connection that is going away.
constexpr auto max_idle = std::chrono::seconds(55);

using SteadyClock = std::chrono::steady_clock;

bool is_ascii(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; });
}

// What the EHLO reply offers (RFC 5321 4.1.1.1; keywords in any case).
struct Extensions {
  bool pipelining = false, starttls = false, size = false, smtputf8 = false;
  bool auth = false, auth_plain = false, auth_login = false;

  static Extensions from(const SmtpReply& ehlo) {
    Extensions e;
    for (size_t i = 1; i < ehlo.lines.size(); ++i) {  // the first line is the greeting
      auto words = util::split(util::to_lower(ehlo.lines[i]), ' ');
      if (words.empty()) continue;
      const auto& keyword = words.front();
      if (keyword == "pipelining") e.pipelining = true;
      else if (keyword == "starttls") e.starttls = true;
      else if (keyword == "size") e.size = true;
      else if (keyword == "smtputf8") e.smtputf8 = true;
      else if (keyword == "auth" || keyword.starts_with("auth=")) {
        e.auth = true;
        if (keyword.starts_with("auth=")) words.push_back(keyword.substr(5));
        for (size_t w = 1; w < words.size(); ++w) {
          if (words[w] == "plain") e.auth_plain = true;
          if (words[w] == "login") e.auth_login = true;
        }
      }
    }
    return e;
  }
};

class SmtpSession final : public Session {
 public:
  SmtpSession(std::shared_ptr<const SmtpSettings> settings, std::shared_ptr<const SmtpTls> tls)
      : settings_(std::move(settings)), tls_(std::move(tls)) {}

  SendResult send(const Envelope& envelope, std::string_view message, const GoAhead& go_ahead) override {
    if (auto ok = check_envelope(envelope); !ok) return {Outcome::failed, 0, {}, ok.error()};
    // The server waits for the content of the envelope opened last time: only that one goes on.
    if (opened_ && *opened_ != envelope) drop_connection();
    bool reused = connection_ != nullptr;
    // An opened envelope's answers are expected on the socket; stale() would take them for trouble.
    if (reused && (SteadyClock::now() - last_used_ > max_idle || (!opened_ && connection_->stale()))) {
      drop_connection();
      reused = false;
    }
    auto result = transaction(envelope, message, go_ahead);
    // The server closed a kept connection just as we used it: it answered nothing and the
    // message never went out, so this is no attempt; one fresh connection tries again.
    if (reused && result.outcome == Outcome::retry && result.stage == ReplyStage::none && !body_sent_) {
      drop_connection();
      result = transaction(envelope, message, go_ahead);
    }
    if (result.outcome == Outcome::sent) last_used_ = SteadyClock::now();
    else drop_connection();  // never reuse a connection in an unknown state
    return result;
  }

  bool opens_next() const override { return connection_ && extensions_.pipelining; }

 private:
  void drop_connection() {
    connection_.reset();
    opened_.reset();
  }

  bool needs_smtputf8(const Envelope& envelope) const {
    return !is_ascii(envelope.mail_from) || !is_ascii(envelope.rcpt_to);
  }

  std::string mail_command(const Envelope& envelope, size_t size) const {
    std::string mail = "MAIL FROM:<" + envelope.mail_from + ">";
    if (extensions_.size) mail += " SIZE=" + std::to_string(size);
    if (needs_smtputf8(envelope)) mail += " SMTPUTF8";
    return mail + "\r\n";
  }

  static std::string rcpt_command(const Envelope& envelope) { return "RCPT TO:<" + envelope.rcpt_to + ">\r\n"; }
  static constexpr std::string_view data = "DATA\r\n";

  SendResult transaction(const Envelope& envelope, std::string_view message, const GoAhead& go_ahead) {
    body_sent_ = false;
    reply_seen_ = false;
    deadline_ = SteadyClock::now() + std::chrono::seconds(std::max(10 * settings_->timeout_seconds, 600));
    if (!connection_) {
      if (auto refused = open_connection()) return std::move(*refused);
    }
    if (needs_smtputf8(envelope) && !extensions_.smtputf8)
      return {Outcome::failed, 0, {}, "the address is not ASCII and the server does not offer SMTPUTF8"};
    // Opened behind the previous message's end of data: its answers are on their way.
    const bool opened = opened_.has_value();
    opened_.reset();
    dot_stuff(message, body_);
    std::string mail = mail_command(envelope, body_.size());
    std::string rcpt = rcpt_command(envelope);

    if (extensions_.pipelining) {
      if (!opened) {
        if (auto s = connection_->write(mail + rcpt + std::string(data)); !s) return local_error(s.error());
      }
      // Every reply is read even after a refusal, so the one that decides is the first refusal.
      std::optional<SendResult> refusal;
      for (auto stage : {ReplyStage::mail, ReplyStage::rcpt, ReplyStage::data}) {
        auto reply = read_reply();
        if (!reply) return refusal ? std::move(*refusal) : local_error(reply.error(), seen_stage(stage));
        bool ok = stage == ReplyStage::data ? reply->code == 354 : reply->code / 100 == 2;
        if (!ok && !refusal) refusal = refused(*reply, stage);
        if (stage == ReplyStage::data && reply->code == 354 && refusal) {
          // A server that answers DATA with 354 after refusing the recipient wants a message:
          // an empty one ends it, and the connection is dropped anyway.
          (void)connection_->write(".\r\n");
        }
      }
      if (refusal) return std::move(*refusal);
    } else {
      for (auto [command, stage] : {std::pair<std::string_view, ReplyStage>{mail, ReplyStage::mail},
                                    {rcpt, ReplyStage::rcpt}, {data, ReplyStage::data}}) {
        if (auto s = connection_->write(command); !s) return local_error(s.error(), seen_stage(stage));
        auto reply = read_reply();
        if (!reply) return local_error(reply.error(), seen_stage(stage));
        bool ok = stage == ReplyStage::data ? reply->code == 354 : reply->code / 100 == 2;
        if (!ok) return refused(*reply, stage);
      }
    }

    // The server waits for the content. Withheld, the connection is closed before any of it
    // went out (send() never reuses a connection after anything but a sent message), and the
    // server forgets the transaction.
    Handover handover = go_ahead ? go_ahead() : Handover(true);
    if (!handover.go)
      return {Outcome::withheld, 0, {}, "withheld by the sender before the message went out", ReplyStage::none};
    std::optional<Envelope> next;
    if (handover.next && extensions_.pipelining && check_envelope(*handover.next) &&
        (extensions_.smtputf8 || !needs_smtputf8(*handover.next))) {
      next = std::move(handover.next);
      body_ += mail_command(*next, handover.next_size) + rcpt_command(*next) + std::string(data);
    }
    body_sent_ = true;
    if (auto s = connection_->write(body_); !s) return local_error(s.error(), ReplyStage::data);
    auto reply = read_reply();
    if (!reply) return local_error(reply.error(), ReplyStage::data);
    if (reply->code / 100 != 2) return refused(*reply, ReplyStage::end_of_data);
    opened_ = std::move(next);
    return from_reply(Outcome::sent, *reply, ReplyStage::end_of_data);
  }

  // Connects, greets, says EHLO, upgrades to TLS and authenticates as the settings ask; the
  // result to report when that fails.
  std::optional<SendResult> open_connection() {
    const auto& s = *settings_;
    if (!tls_->error.empty() && (s.implicit_tls || must_encrypt())) return local_error(tls_->error);
    auto opened = SmtpConnection::open(s.host, s.port, s.timeout_seconds);
    if (!opened) return local_error(opened.error());
    connection_ = std::move(*opened);
    assembler_.clear();
    if (s.implicit_tls) {
      if (auto ok = connection_->start_tls(tls_->verified.get(), s.host, true); !ok) return local_error(ok.error());
    }
    auto greeting = read_reply();
    if (!greeting) return local_error(greeting.error());
    if (greeting->code != 220) return refused(*greeting, ReplyStage::session);
    if (auto refusal = hello()) return refusal;

    if (!s.implicit_tls && extensions_.starttls && (must_encrypt() || tls_->error.empty())) {
      auto answer = command("STARTTLS\r\n");
      if (!answer) return local_error(answer.error(), ReplyStage::session);
      if (answer->code != 220) return refused(*answer, ReplyStage::session);
      // Anything the server sent in clear after its 220 is not to be believed once encrypted.
      assembler_.clear();
      SSL_CTX* ctx = must_encrypt() ? tls_->verified.get() : tls_->unverified.get();
      if (auto ok = connection_->start_tls(ctx, s.host, must_encrypt()); !ok) return local_error(ok.error());
      // RFC 3207 4.2: forget what the server said in clear, and ask again.
      if (auto refusal = hello()) return refusal;
    }
    if (must_encrypt() && !connection_->encrypted())
      return local_error("the server does not offer STARTTLS, and the password is never sent in clear");
    if (!s.username.empty()) return authenticate();
    return std::nullopt;
  }

  std::optional<SendResult> hello() {
    auto reply = command("EHLO " + settings_->ehlo_name + "\r\n");
    if (!reply) return local_error(reply.error(), ReplyStage::session);
    if (reply->code / 100 == 2) {
      extensions_ = Extensions::from(*reply);
      return std::nullopt;
    }
    // RFC 5321 3.2: a server that does not know EHLO still knows HELO (and offers nothing).
    if (reply->code / 100 != 5) return refused(*reply, ReplyStage::session);
    reply = command("HELO " + settings_->ehlo_name + "\r\n");
    if (!reply) return local_error(reply.error(), ReplyStage::session);
    if (reply->code / 100 != 2) return refused(*reply, ReplyStage::session);
    extensions_ = {};
    return std::nullopt;
  }

  // AUTH PLAIN (RFC 4616), else LOGIN. Neither the credentials nor the lines carrying them
  // ever reach an error text: only the server's replies do. A server that offers no AUTH at
  // all takes mail without it (a relay that trusts our address), as libcurl did before us.
  std::optional<SendResult> authenticate() {
    const auto& s = *settings_;
    if (!extensions_.auth) return std::nullopt;
    if (extensions_.auth_plain) {
      std::string token = std::string(1, '\0') + s.username + std::string(1, '\0') + s.password;
      auto reply = command("AUTH PLAIN " + util::base64_encode(token) + "\r\n");
      if (!reply) return local_error(reply.error(), ReplyStage::session);
      if (reply->code != 235) return refused(*reply, ReplyStage::session);
      return std::nullopt;
    }
    if (extensions_.auth_login) {
      auto reply = command("AUTH LOGIN\r\n");
      for (const auto* secret : {&s.username, &s.password}) {
        if (!reply) return local_error(reply.error(), ReplyStage::session);
        if (reply->code != 334) return refused(*reply, ReplyStage::session);
        reply = command(util::base64_encode(*secret) + "\r\n");
      }
      if (!reply) return local_error(reply.error(), ReplyStage::session);
      if (reply->code != 235) return refused(*reply, ReplyStage::session);
      return std::nullopt;
    }
    return local_error("the server offers neither AUTH PLAIN nor AUTH LOGIN", ReplyStage::session);
  }

  bool must_encrypt() const { return !settings_->implicit_tls && !settings_->username.empty() && !settings_->loopback; }

  Result<SmtpReply> command(std::string_view line) {
    if (auto s = connection_->write(line); !s) return std::unexpected(s.error());
    return read_reply();
  }

  Result<SmtpReply> read_reply() {
    size_t read = 0;
    while (true) {
      if (auto reply = assembler_.next()) {
        reply_seen_ = true;
        return std::move(*reply);
      }
      if (SteadyClock::now() > deadline_) return fail("the transaction took longer than its time limit");
      if (read > max_reply_bytes) return fail("the server sent more than 64 KB without a complete reply");
      input_.clear();
      if (auto s = connection_->read_some(input_); !s) return std::unexpected(s.error());
      read += input_.size();
      assembler_.feed(input_);
    }
  }

  // The stage a failure without a reply is reported at: none when the server has said nothing
  // in this transaction at all (it may be down), else the command that went unanswered.
  ReplyStage seen_stage(ReplyStage stage) const { return reply_seen_ ? stage : ReplyStage::none; }

  SendResult refused(const SmtpReply& reply, ReplyStage stage) const {
    bool about_message = stage != ReplyStage::session && stage != ReplyStage::none;
    bool about_auth = reply.code == 530 || reply.code == 534 || reply.code == 535 || reply.code == 538;
    auto outcome = reply.code >= 500 && about_message && !about_auth ? Outcome::failed : Outcome::retry;
    return from_reply(outcome, reply, stage);
  }

  static SendResult from_reply(Outcome outcome, const SmtpReply& reply, ReplyStage stage) {
    return {outcome, reply.code, reply.enhanced, reply.text.substr(0, max_reply_text), stage};
  }

  SendResult local_error(std::string text, ReplyStage stage = ReplyStage::none) const {
    if (body_sent_) text += " (after the message was sent; the server may have it)";
    return {Outcome::retry, 0, {}, std::move(text), body_sent_ ? ReplyStage::end_of_data : stage};
  }

  std::shared_ptr<const SmtpSettings> settings_;
  std::shared_ptr<const SmtpTls> tls_;
  std::unique_ptr<SmtpConnection> connection_;
  Extensions extensions_;
  ReplyAssembler assembler_;
  std::string input_;  // the last bytes read
  std::string body_;   // the dot-stuffed message, reused from message to message
  std::optional<Envelope> opened_;  // MAIL, RCPT and DATA written behind the last message, answers unread
  bool body_sent_ = false;        // the message went out: from here on the server may have it
  bool reply_seen_ = false;  // the server has answered something in this transaction
  SteadyClock::time_point deadline_{};
  SteadyClock::time_point last_used_{};
};

std::shared_ptr<const SmtpTls> make_tls_contexts() {
  auto tls = std::make_shared<SmtpTls>();
  auto verified = make_tls_client_context(true);
  auto unverified = make_tls_client_context(false);
  if (!verified || !unverified) {
    tls->error = !verified ? verified.error() : unverified.error();
    return tls;
  }
  tls->verified = std::move(*verified);
  tls->unverified = std::move(*unverified);
  return tls;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Transport

SmtpTransport::SmtpTransport(SmtpSettings settings)
    : settings_(std::make_shared<const SmtpSettings>(std::move(settings))), tls_(make_tls_contexts()) {}

Result<std::unique_ptr<Transport>> SmtpTransport::create(const TransportOptions& options) {
  auto settings = parse_smtp_url(options);
  if (!settings) return std::unexpected(settings.error());
  return std::make_unique<SmtpTransport>(std::move(*settings));
}

Result<std::unique_ptr<Session>> SmtpTransport::open_session() {
  return std::make_unique<SmtpSession>(settings_, tls_);
}

}  // namespace campaignd::transport
