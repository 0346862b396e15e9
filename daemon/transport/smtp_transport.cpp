// SMTP through libcurl: url parsing, one reusable easy handle per Session, and the mapping of
// what the server said (seen through the debug callback) to sent / retry / failed.
#include "daemon/transport/smtp_transport.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <vector>

#include "daemon/transport/curl_handle.hpp"
#include "daemon/transport/smtp_reply.hpp"
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
  // libcurl sends the url's path as the EHLO name (it says "localhost" without one).
  auto ehlo = url_part(url.get(), CURLUPART_PATH, 0).value_or("/").substr(1);
  if (!is_ehlo_name(ehlo)) return fail(quoted + " has a path that is not a host name to use in EHLO");

  SmtpSettings settings;
  settings.curl_url = scheme + "://" + *host + ":" + *port + (ehlo.empty() ? "" : "/" + ehlo);
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
// Session

namespace {

constexpr size_t max_reply_text = 1000;

class SmtpSession final : public Session {
 public:
  explicit SmtpSession(std::shared_ptr<const SmtpSettings> settings) : settings_(std::move(settings)) {}
  SmtpSession(const SmtpSession&) = delete;
  SmtpSession& operator=(const SmtpSession&) = delete;
  // libcurl still calls our socket callbacks while it closes: close it while the members live.
  ~SmtpSession() override { handle_.reset(); }

  SendResult send(const Envelope& envelope, std::string_view message) override {
    if (auto ok = check_envelope(envelope); !ok) return {Outcome::failed, 0, {}, ok.error()};
    if (!handle_) {
      if (auto opened = open_handle(); !opened) return {Outcome::retry, 0, {}, opened.error()};
    }
    body_ = message;
    body_offset_ = 0;
    stage_ = Stage::session;
    assembler_.clear();
    last_reply_.reset();
    body_sent_ = false;
    error_buffer_[0] = '\0';
    auto from = "<" + envelope.mail_from + ">";
    recipients_ = make_slist("<" + envelope.rcpt_to + ">");
    if (!recipients_) return {Outcome::retry, 0, {}, "out of memory"};

    CURL* h = handle_.get();
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, recipients_.get());
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
    auto result = classify(curl_easy_perform(h));
    result.stage = last_reply_ ? to_reply_stage(last_reply_stage_) : ReplyStage::none;
    body_ = {};
    if (result.outcome != Outcome::sent) drop_connection();
    return result;
  }

 private:
  // Which command the next server reply answers. After QUIT (libcurl closing up after an
  // error) replies are ignored: the 221 must not hide the refusal before it.
  enum class Stage { session, mail, rcpt, data, end_of_data, quit };

  static ReplyStage to_reply_stage(Stage stage) {
    switch (stage) {
      case Stage::session: return ReplyStage::session;
      case Stage::mail: return ReplyStage::mail;
      case Stage::rcpt: return ReplyStage::rcpt;
      case Stage::data: return ReplyStage::data;
      case Stage::end_of_data:
      case Stage::quit: return ReplyStage::end_of_data;
    }
    return ReplyStage::none;
  }

  Status open_handle() {
    CurlEasy handle(curl_easy_init());
    if (!handle) return fail("cannot create a libcurl handle");
    CURL* h = handle.get();
    const auto& s = *settings_;
    long timeout = s.timeout_seconds;
    curl_easy_setopt(h, CURLOPT_URL, s.curl_url.c_str());
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &SmtpSession::read_body);
    curl_easy_setopt(h, CURLOPT_READDATA, this);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);  // only so the debug callback sees the replies
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &SmtpSession::debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, this);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer_);
    // A stalled server must not hold a worker: connecting, each reply and the upload each
    // get `timeout` seconds of silence; the total is capped as a backstop.
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, timeout);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, timeout);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, std::max(10 * timeout, 600L));
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, &SmtpSession::socket_opened);
    curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, this);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, &SmtpSession::close_socket);
    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, this);
    if (!s.username.empty()) {
      curl_easy_setopt(h, CURLOPT_USERNAME, s.username.c_str());
      curl_easy_setopt(h, CURLOPT_PASSWORD, s.password.c_str());
    }
    if (!s.implicit_tls) {
      bool must_encrypt = !s.username.empty() && !s.loopback;
      curl_easy_setopt(h, CURLOPT_USE_SSL, must_encrypt ? long{CURLUSESSL_ALL} : long{CURLUSESSL_TRY});
      if (!must_encrypt) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
      }
    }
    handle_ = std::move(handle);
    return {};
  }

  // After any error: never reuse a connection in an unknown state. libcurl 7.88 even keeps a
  // connection whose reply timed out, and would say QUIT on it and wait the whole response
  // timeout again for the 221; shutting the socket first makes that wait end at once.
  void drop_connection() {
    for (auto socket : sockets_) ::shutdown(socket, SHUT_RDWR);
    handle_.reset();
  }

  SendResult classify(CURLcode rc) {
    if (rc == CURLE_OK) {
      if (last_reply_ && last_reply_stage_ == Stage::end_of_data && last_reply_->code / 100 == 2)
        return from_reply(Outcome::sent);
      return {Outcome::retry, last_reply_ ? last_reply_->code : 0, {},
              "the server ended the transaction without a 2xx reply to the message"};
    }
    // Our parse of the reply lines; libcurl's own number if a broken server defeated it.
    long curl_code = 0;
    curl_easy_getinfo(handle_.get(), CURLINFO_RESPONSE_CODE, &curl_code);
    int code = last_reply_ ? last_reply_->code : static_cast<int>(curl_code);
    std::string curl_text = error_buffer_[0] != '\0' ? std::string(error_buffer_) : curl_easy_strerror(rc);
    if (code >= 400) {
      bool about_message = last_reply_ && last_reply_stage_ != Stage::session;
      bool about_auth = code == 530 || code == 534 || code == 535 || code == 538;
      auto outcome = code >= 500 && about_message && !about_auth ? Outcome::failed : Outcome::retry;
      if (last_reply_) return from_reply(outcome);
      return {outcome, code, {}, curl_text};
    }
    // No refusal from the server: connect failure, timeout, dropped connection, TLS trouble.
    if (body_sent_) curl_text += " (after the message was sent; the server may have it)";
    return {Outcome::retry, 0, {}, curl_text};
  }

  SendResult from_reply(Outcome outcome) const {
    auto text = last_reply_->text.substr(0, max_reply_text);
    return {outcome, last_reply_->code, last_reply_->enhanced, std::move(text)};
  }

  void on_command(std::string_view line) {
    // Never keep the line: AUTH continuations carry credentials.
    auto starts = [&](std::string_view verb) {
      return line.size() >= verb.size() && util::iequals(line.substr(0, verb.size()), verb);
    };
    if (starts("MAIL FROM:")) stage_ = Stage::mail;
    else if (starts("RCPT TO:")) stage_ = Stage::rcpt;
    else if (starts("DATA\r") || starts("DATA\n")) stage_ = Stage::data;
    else if (starts("QUIT\r") || starts("QUIT\n")) stage_ = Stage::quit;
    else stage_ = Stage::session;
  }

  void on_reply_bytes(std::string_view bytes) {
    if (stage_ == Stage::quit) return;
    assembler_.feed(bytes);
    while (auto reply = assembler_.next()) {
      last_reply_ = std::move(reply);
      last_reply_stage_ = stage_;
      // After 354 the body goes out and the next reply answers the final dot; libcurl sends
      // the body and the dot as data, not as a command we would see.
      if (stage_ == Stage::data && last_reply_->code == 354) {
        stage_ = Stage::end_of_data;
        body_sent_ = true;
      }
    }
  }

  static size_t read_body(char* buffer, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<SmtpSession*>(self_ptr);
    size_t n = std::min(size * count, self->body_.size() - self->body_offset_);
    std::memcpy(buffer, self->body_.data() + self->body_offset_, n);
    self->body_offset_ += n;
    return n;
  }

  static int socket_opened(void* self_ptr, curl_socket_t socket, curlsocktype) {
    static_cast<SmtpSession*>(self_ptr)->sockets_.push_back(socket);
    return CURL_SOCKOPT_OK;
  }

  static int close_socket(void* self_ptr, curl_socket_t socket) {
    auto& sockets = static_cast<SmtpSession*>(self_ptr)->sockets_;
    std::erase(sockets, socket);
    return ::close(socket);
  }

  static int debug(CURL*, curl_infotype type, char* data, size_t size, void* self_ptr) {
    auto* self = static_cast<SmtpSession*>(self_ptr);
    std::string_view bytes(data, size);
    if (type == CURLINFO_HEADER_OUT) self->on_command(bytes);
    else if (type == CURLINFO_HEADER_IN) self->on_reply_bytes(bytes);
    return 0;
  }

  std::shared_ptr<const SmtpSettings> settings_;
  CurlSlist recipients_;
  std::string_view body_;
  size_t body_offset_ = 0;
  Stage stage_ = Stage::session;
  ReplyAssembler assembler_;
  std::optional<SmtpReply> last_reply_;
  Stage last_reply_stage_ = Stage::session;
  bool body_sent_ = false;  // the server said 354: from here on it may have the message
  std::vector<curl_socket_t> sockets_;  // open sockets of this handle (normally one)
  char error_buffer_[CURL_ERROR_SIZE] = {};
  CurlEasy handle_;  // last, so it goes first: its callbacks point at the members above
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Transport

SmtpTransport::SmtpTransport(SmtpSettings settings)
    : settings_(std::make_shared<const SmtpSettings>(std::move(settings))) {}

Result<std::unique_ptr<Transport>> SmtpTransport::create(const TransportOptions& options) {
  auto settings = parse_smtp_url(options);
  if (!settings) return std::unexpected(settings.error());
  return std::make_unique<SmtpTransport>(std::move(*settings));
}

Result<std::unique_ptr<Session>> SmtpTransport::open_session() {
  return std::make_unique<SmtpSession>(settings_);
}

}  // namespace campaignd::transport
