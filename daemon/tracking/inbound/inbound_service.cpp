#include "daemon/tracking/inbound/inbound_service.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "daemon/store/contacts.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/tracking/inbound/arf_parser.hpp"
#include "daemon/tracking/inbound/auto_reply.hpp"
#include "daemon/tracking/inbound/bounce_classifier.hpp"
#include "daemon/tracking/inbound/dsn_parser.hpp"
#include "daemon/tracking/inbound/reply_address.hpp"
#include "daemon/tracking/inbound/reply_snippet.hpp"
#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::tracking::inbound {

namespace {

// ---------------------------------------------------------------------------------------------
// Reading the request

using FieldGetter = std::function<std::string(const std::string&)>;

std::string header_safe(std::string_view v) { return to_utf8(util::strip_controls(util::trim(v)), "utf-8"); }

Result<InboundMail> from_raw(std::string_view raw, const ParseLimits& limits) {
  auto parsed = parse_message(raw, limits);
  if (!parsed) return std::unexpected(parsed.error());
  InboundMail mail;
  mail.message = std::move(*parsed);
  mail.identity = std::string(raw);
  return mail;
}

// SendGrid's envelope field: {"to": ["a@b"], "from": "c@d"}.
void read_envelope(const std::string& text, InboundMail& mail) {
  auto env = nlohmann::json::parse(text, nullptr, false);
  if (!env.is_object()) return;
  if (auto to = env.find("to"); to != env.end()) {
    if (to->is_array()) {
      for (const auto& t : *to)
        if (t.is_string()) mail.envelope_recipients.push_back(t.get<std::string>());
    } else if (to->is_string()) {
      mail.envelope_recipients.push_back(to->get<std::string>());
    }
  }
  if (auto from = env.find("from"); from != env.end() && from->is_string()) mail.envelope_sender = from->get<std::string>();
}

// A message made of the fields a relay posts when it does not send the raw MIME.
Result<InboundMail> from_fields(const FieldGetter& field) {
  InboundMail mail;
  MimePart& root = mail.message.root;
  auto skip = [](const std::string& name) {
    return util::iequals(name, "Content-Type") || util::iequals(name, "Content-Transfer-Encoding");
  };
  if (std::string mh = field("message-headers"); !mh.empty()) {  // Mailgun: [["Name", "value"], ...]
    auto list = nlohmann::json::parse(mh, nullptr, false);
    if (!list.is_array()) return fail("field message-headers: not a JSON array of [name, value] pairs");
    for (const auto& pair : list) {
      if (!pair.is_array() || pair.size() != 2 || !pair[0].is_string() || !pair[1].is_string()) continue;
      std::string name = pair[0].get<std::string>();
      if (!skip(name) && root.headers.size() < 1000) root.headers.add(header_safe(name), header_safe(pair[1].get<std::string>()));
    }
  } else if (std::string hs = field("headers"); !hs.empty()) {  // SendGrid: the header block as text
    HeaderList block = parse_header_block(hs, nullptr, {}, &mail.message.warnings);
    for (const auto& f : block.fields())
      if (!skip(f.name)) root.headers.add(f.name, f.value);
  }
  // Fields the relay also posts on their own, when the header list lacks them.
  const std::pair<const char*, std::vector<const char*>> named[] = {
      {"Message-ID", {"Message-Id", "message-id", "Message-ID"}},
      {"In-Reply-To", {"In-Reply-To", "in-reply-to"}},
      {"References", {"References", "references"}},
      {"Subject", {"subject", "Subject"}},
      {"From", {"from", "From"}},
      {"To", {"To", "to"}},
      {"Auto-Submitted", {"Auto-Submitted"}},
  };
  for (const auto& [header, names] : named) {
    if (root.headers.has(header)) continue;
    for (const char* n : names)
      if (std::string v = field(n); !v.empty()) {
        root.headers.add(header, header_safe(v));
        break;
      }
  }
  // SendGrid posts fields in their original charsets and names them in `charsets`.
  auto charsets = nlohmann::json::parse(field("charsets"), nullptr, false);
  auto charset_of = [&](const char* name) {
    if (charsets.is_object() && charsets.contains(name) && charsets[name].is_string()) return charsets[name].get<std::string>();
    return std::string("utf-8");
  };
  std::string body;
  if (std::string plain = field("body-plain"); !plain.empty()) body = to_utf8(plain, "utf-8");
  else if (std::string text = field("text"); !text.empty()) body = to_utf8(text, charset_of("text"));
  else if (std::string html = field("body-html"); !html.empty()) body = html_to_text(to_utf8(html, "utf-8"));
  else if (std::string h = field("html"); !h.empty()) body = html_to_text(to_utf8(h, charset_of("html")));
  if (std::string stripped = field("stripped-text"); !stripped.empty()) mail.stripped_text = to_utf8(stripped, "utf-8");

  for (const char* name : {"recipient", "Recipient"})
    if (std::string r = field(name); !r.empty()) {
      for (const auto& a : addresses_of(r)) mail.envelope_recipients.push_back(a);
      break;
    }
  if (std::string s = field("sender"); !s.empty()) mail.envelope_sender = s;
  if (std::string env = field("envelope"); !env.empty()) read_envelope(env, mail);

  if (root.headers.empty() && body.empty()) return fail("no message in the request (expected raw MIME or relay fields)");
  root.content_type.type = "text";
  root.content_type.subtype = "plain";
  root.content_type.params["charset"] = "utf-8";
  root.transfer_encoding = "8bit";
  root.body = std::move(body);
  mail.identity = "fields\n";
  for (const auto& f : root.headers.fields()) mail.identity += f.name + ": " + f.value + "\n";
  mail.identity += "\n" + root.body;
  return mail;
}

// ---------------------------------------------------------------------------------------------
// Building events

std::string event_id_base(const InboundMail& mail) {
  auto ids = message_ids(mail.message.root.headers.value("Message-ID"));
  if (!ids.empty()) return "inbound:" + ids.front().substr(0, 900);
  return "inbound:sha256:" + util::sha256_hex(mail.identity);
}

// The n-th event of one message gets its own key; the first keeps the plain one.
std::string event_id(const std::string& base, std::size_t index, std::string_view qualifier) {
  if (index == 0) return base;
  return base + "/" + std::string(qualifier) + "#" + std::to_string(index);
}

std::string truncated(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  s.resize(max);
  return to_utf8(s, "utf-8");
}

}  // namespace

Result<InboundMail> read_inbound_request(const http::HttpRequest& request, const ParseLimits& limits) {
  ContentType ct = parse_content_type(request.header("content-type"));
  std::string mime = request.header("content-type").empty() ? std::string() : ct.mime_type();
  if (mime == "message/rfc822" || mime == "text/plain" || mime == "message/global") return from_raw(request.body, limits);
  if (mime == "application/json") {
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded()) return fail("body: invalid JSON");
    if (!body.is_object()) return fail("body: expected a JSON object");
    for (const char* key : {"raw", "body-mime", "email"})
      if (auto it = body.find(key); it != body.end()) {
        if (!it->is_string()) return fail(std::string("field ") + key + ": expected a string");
        return from_raw(it->get<std::string>(), limits);
      }
    return from_fields([&](const std::string& name) {
      auto it = body.find(name);
      if (it == body.end()) return std::string();
      return it->is_string() ? it->get<std::string>() : it->dump();
    });
  }
  if (!request.form.empty()) {
    for (const char* key : {"body-mime", "email"})
      if (std::string raw = request.form_value(key); !raw.empty()) {
        auto mail = from_raw(raw, limits);
        if (!mail) return fail(std::string("field ") + key + ": " + mail.error());
        if (std::string r = request.form_value("recipient"); !r.empty()) mail->envelope_recipients = addresses_of(r);
        if (std::string s = request.form_value("sender"); !s.empty()) mail->envelope_sender = s;
        if (std::string env = request.form_value("envelope"); !env.empty()) read_envelope(env, *mail);
        return mail;
      }
    return from_fields([&](const std::string& name) { return request.form_value(name); });
  }
  if (mime.empty() || mime == "application/octet-stream") return from_raw(request.body, limits);
  return fail("unsupported Content-Type " + to_utf8(util::strip_controls(mime).substr(0, 100), "utf-8") + " (expected message/rfc822, text/plain, JSON or a form)");
}

namespace {

// Every address the mail was sent to. Headers written by the sender's client keep a token's
// case; envelope copies may not, so they come last.
std::vector<std::string> recipients_of(const InboundMail& mail) {
  const HeaderList& h = mail.message.root.headers;
  std::vector<std::string> candidates;
  for (const char* name : {"To", "Cc", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"})
    for (const auto& value : h.get_all(name))
      for (auto& a : addresses_of(value)) candidates.push_back(std::move(a));
  for (const auto& r : mail.envelope_recipients) candidates.push_back(r);
  return candidates;
}

}  // namespace

std::optional<std::int64_t> InboundService::send_from_recipients(const InboundMail& mail) const {
  for (const auto& c : recipients_of(mail))
    if (auto id = send_id_from_reply_address(c, signer_)) return id;
  return std::nullopt;
}

std::optional<std::int64_t> InboundService::unsubscribe_send(const InboundMail& mail) const {
  static constexpr std::string_view kPrefix = "unsubscribe+";
  for (const auto& address : recipients_of(mail)) {
    auto at = address.rfind('@');
    if (at == std::string::npos || !address.starts_with(kPrefix)) continue;
    auto payload = signer_.verify(TokenPurpose::unsubscribe, address.substr(kPrefix.size(), at - kPrefix.size()));
    long long id;
    if (payload && util::parse_int(*payload, id) && id > 0) return id;
  }
  return std::nullopt;
}

Result<Classification> InboundService::classify_reply(const InboundMail& mail, bool automatic,
                                                      const std::string& auto_reason, const std::string& event_id) {
  const HeaderList& h = mail.message.root.headers;
  auto reader = store_.readers().borrow();
  if (!reader) return std::unexpected(reader.error());
  store::SendRepository sends(**reader);

  Classification c;
  ResponseEvent e;
  e.kind = automatic ? "auto_replied" : "replied";
  e.at = clock_.now();
  e.provider_event_id = event_id;

  auto try_ids = [&](std::vector<std::string> ids, const char* how) -> Status {
    for (const auto& id : ids) {
      if (c.matched) break;
      auto send = sends.find_by_message_id(id);
      if (!send) return std::unexpected(send.error());
      if (*send) {
        e.send_id = (*send)->id;
        c.matched = true;
        c.matched_by = how;
      }
    }
    return {};
  };
  if (auto s = try_ids(message_ids(h.value("In-Reply-To")), "in-reply-to"); !s) return std::unexpected(s.error());
  if (!c.matched) {
    auto refs = message_ids(h.value("References"));
    std::reverse(refs.begin(), refs.end());
    if (auto s = try_ids(std::move(refs), "references"); !s) return std::unexpected(s.error());
  }
  if (!c.matched) {
    if (auto id = send_from_recipients(mail)) {
      auto send = sends.find(*id);
      if (!send) return std::unexpected(send.error());
      if (*send) {
        e.send_id = *id;
        c.matched = true;
        c.matched_by = "reply-address";
      }
    }
  }
  if (!c.matched) {
    std::string from = address_of(h.value("From"));
    if (!from.empty()) {
      auto contact = store::ContactRepository(**reader).id_for_email(from);
      if (!contact) return std::unexpected(contact.error());
      if (*contact) {
        e.recipient = from;
        c.matched = true;
        c.matched_by = "sender";
      }
    }
  }

  std::string subject = truncated(decode_rfc2047(h.value("Subject")), 300);
  e.data["subject"] = subject;
  if (!c.matched_by.empty()) e.data["matched_by"] = c.matched_by;
  // What an autoresponder needs to thread its answer and to follow RFC 3834.
  e.data["from"] = address_of(h.value("From"));
  if (auto ids = message_ids(h.value("Message-ID")); !ids.empty()) e.data["message_id"] = "<" + ids.front() + ">";
  if (auto refs = h.value("References"); !refs.empty()) e.data["references"] = truncated(refs, 2000);
  if (!mail.envelope_sender.empty()) e.data["return_path"] = mail.envelope_sender;
  else if (auto rp = h.value("Return-Path"); !rp.empty()) e.data["return_path"] = address_of(rp);
  if (auto v = h.value("Precedence"); !v.empty()) e.data["precedence"] = truncated(v, 100);
  if (auto v = h.value("List-Id"); !v.empty()) e.data["list_id"] = truncated(v, 300);
  if (auto v = h.value("Auto-Submitted"); !v.empty()) e.data["auto_submitted"] = truncated(v, 100);
  if (auto v = h.value("X-Auto-Response-Suppress"); !v.empty()) e.data["x_auto_response_suppress"] = truncated(v, 100);
  if (automatic) {
    e.data["auto_reason"] = to_utf8(auto_reason, "utf-8");
  } else {
    std::string snippet = mail.stripped_text ? reply_snippet(*mail.stripped_text) : std::string();
    if (snippet.empty()) snippet = reply_snippet(text_body(mail.message.root));
    e.data["snippet"] = snippet;
  }
  c.kind = e.kind;
  if (c.matched) c.events.push_back(std::move(e));
  return c;
}

Result<Classification> InboundService::classify(const InboundMail& mail) {
  const ParsedMessage& msg = mail.message;
  const std::string base = event_id_base(mail);
  util::UnixTime now = clock_.now();
  // RFC 2369 mailto: unsubscribe (List-Unsubscribe: <mailto:unsubscribe+TOKEN@domain>).
  if (auto send_id = unsubscribe_send(mail)) {
    Classification c;
    ResponseEvent e;
    e.kind = "unsubscribed";
    e.send_id = *send_id;
    e.at = now;
    e.provider_event_id = "unsubscribe:" + std::to_string(*send_id);  // the same key as the web link
    e.data = {{"source", "mailto"}};
    c.kind = e.kind;
    c.matched = true;
    c.matched_by = "unsubscribe-address";
    c.events.push_back(std::move(e));
    return c;
  }
  // A bounce sent to a per-send address (VERP) names its send even without the original message.
  std::optional<std::int64_t> addressed_send = send_from_recipients(mail);

  if (auto arf = parse_arf(msg)) {
    Classification c;
    if (!arf->is_complaint()) {
      c.kind = "ignored";
      return c;
    }
    std::vector<std::string> who = arf->original_rcpt_to;
    if (who.empty()) who = arf->original_to;
    if (who.empty()) who.emplace_back();  // the Message-ID alone may still find the send
    for (std::size_t i = 0; i < who.size() && i < 50; ++i) {
      ResponseEvent e;
      e.kind = "complained";
      e.at = now;
      e.send_id = addressed_send;
      e.message_id = arf->original_message_id;
      if (!who[i].empty()) e.recipient = who[i];
      e.provider_event_id = event_id(base, i, who[i]);
      e.reason = arf->feedback_type.empty() ? std::string("abuse") : arf->feedback_type;
      e.data["feedback_type"] = *e.reason;
      if (!arf->user_agent.empty()) e.data["reporter"] = arf->user_agent;
      c.events.push_back(std::move(e));
    }
    c.kind = "complained";
    return c;
  }

  if (auto dsn = parse_dsn(msg)) {
    Classification c;
    for (const auto& r : dsn->recipients) {
      if (c.events.size() >= 50) break;
      ResponseEvent e;
      e.at = now;
      e.send_id = addressed_send;
      e.message_id = dsn->original_message_id;
      if (!r.final_recipient.empty()) e.recipient = r.final_recipient;
      if (!r.status.empty()) e.data["status"] = r.status;
      if (!r.diagnostic_code.empty()) e.reason = r.diagnostic_code;
      if (!r.remote_mta.empty()) e.data["remote_mta"] = r.remote_mta;
      if (r.action == "delivered") {
        e.kind = "delivered";
      } else if (r.action == "delayed") {
        e.kind = "deferred";
      } else if (r.action == "failed" || r.action.empty()) {
        BounceVerdict v = classify_bounce(r.status, r.diagnostic_code, r.action);
        e.kind = "bounced";
        e.data["classification"] = std::string(to_string(v.klass));
        e.data["why"] = v.reason;
        if (v.klass == BounceClass::hard) {
          e.bounce_type = "hard";
        } else {
          // Policy blocks and unrecognised failures must not suppress at once.
          e.bounce_type = "soft";
          if (v.klass == BounceClass::policy) e.data["policy"] = true;
        }
      } else {
        continue;  // relayed, expanded: nothing to learn
      }
      e.provider_event_id = event_id(base, c.events.size(), r.final_recipient);
      c.events.push_back(std::move(e));
    }
    c.kind = c.events.empty() ? "ignored" : c.events.front().kind;
    return c;
  }

  AutoReplyVerdict verdict = detect_auto_reply(msg.root.headers, mail.envelope_sender);
  return classify_reply(mail, verdict.automatic, verdict.reason, base);
}

http::HttpResponse InboundService::handle(const http::HttpRequest& request) {
  auto mail = read_inbound_request(request);
  if (!mail) return http::HttpResponse::error(400, mail.error());
  auto c = classify(*mail);
  if (!c) {
    spdlog::warn("inbound: reading the store failed: {}", c.error());
    return http::HttpResponse::error(503, "database unavailable");
  }
  nlohmann::json out = {{"kind", c->kind}, {"matched", c->matched}, {"events", c->events.size()}};
  if (!c->matched_by.empty()) out["matched_by"] = c->matched_by;
  if (c->events.empty()) return http::HttpResponse::json(200, out);
  auto outcomes = recorder_.record_all(c->events);
  if (!outcomes) {
    spdlog::warn("inbound: recording {} failed: {}", c->kind, outcomes.error());
    return http::HttpResponse::error(503, "database unavailable");
  }
  bool matched = false, duplicate = true;
  for (const auto& o : *outcomes) {
    matched = matched || o.matched;
    duplicate = duplicate && o.duplicate;
  }
  // A duplicate was matched when it was first recorded, if at all; the answer says what we know.
  out["matched"] = matched || (duplicate && c->matched);
  out["duplicate"] = duplicate;
  return http::HttpResponse::json(200, out);
}

}  // namespace campaignd::tracking::inbound
