#include "daemon/tracking/inbound/bounce_classifier.hpp"

#include <array>
#include <cctype>

#include "daemon/util/strings.hpp"

namespace campaignd::tracking::inbound {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Phrases are matched in the lower-cased diagnostic. Policy first: a block notice often also
// says "rejected" or "unavailable".
constexpr std::array kPolicyPhrases = {
    "spam",          "blocklist",        "blacklist",        "block list",        "black list",
    "blocked",       "reputation",       "spamhaus",         "barracuda",         "dnsbl",
    "rbl",           "dmarc",            "spf",              "dkim",              "not authorized to send",
    "rate limit",    "too many messages", "unsolicited",     "policy",            "content rejected",
    "message rejected due to", "denied by policy", "relay access denied", "relaying denied",
    "sender address rejected", "authentication required", "ip address",
};
constexpr std::array kFullPhrases = {
    "mailbox full", "mailbox is full", "quota exceeded", "over quota", "overquota", "exceeded storage",
    "insufficient storage", "out of storage", "storage allocation", "user is over",
    "inbox is full", "mailfolder is full",
};
constexpr std::array kHardPhrases = {
    "user unknown",          "unknown user",          "no such user",        "no such mailbox",
    "no such recipient",     "does not exist",        "doesn't exist",       "unknown recipient",
    "invalid recipient",     "recipient not found",   "mailbox not found",   "mailbox unavailable",
    "mailbox does not",      "address rejected",      "no mailbox here",     "account disabled",
    "account has been disabled", "account is disabled", "inactive user",     "user not found",
    "address not found",     "invalid mailbox",       "recipient rejected",  "no longer available",
    "host not found",        "domain not found",      "domain name not found",      "no mx",               "name or service not known",
    "undeliverable address", "bad destination",       "unrouteable address", "unroutable address",
};

template <typename List>
const char* find_phrase(const std::string& lower, const List& phrases) {
  for (const char* p : phrases) {
    std::string_view needle(p);
    std::size_t at = lower.find(needle);
    while (at != std::string::npos) {
      // Short acronyms must stand alone ("rbl" but not "terrible", "spf" as a word).
      bool before = at == 0 || !std::isalnum(static_cast<unsigned char>(lower[at - 1]));
      bool after = at + needle.size() >= lower.size() ||
                   !std::isalnum(static_cast<unsigned char>(lower[at + needle.size()]));
      if (needle.size() > 4 || (before && after)) return p;
      at = lower.find(needle, at + 1);
    }
  }
  return nullptr;
}

BounceVerdict by_enhanced(const EnhancedCode& c) {
  BounceVerdict v;
  v.code = c.text();
  if (c.subject == 7) return {BounceClass::policy, v.code, "security or policy status"};
  if (c.klass == 4) {
    if (c.subject == 2 && c.detail == 2) return {BounceClass::soft, v.code, "mailbox full"};
    return {BounceClass::soft, v.code, "temporary failure"};
  }
  if (c.klass != 5) return {BounceClass::unknown, v.code, "not a failure"};
  switch (c.subject) {
    case 1:
      // x.1.7 and x.1.8 concern our sender address, not the recipient's.
      if (c.detail == 7 || c.detail == 8) return {BounceClass::policy, v.code, "sender address rejected"};
      return {BounceClass::hard, v.code, c.detail == 1 ? "bad destination mailbox" : "bad destination address"};
    case 2:
      if (c.detail == 1) return {BounceClass::hard, v.code, "mailbox disabled"};
      if (c.detail == 2) return {BounceClass::soft, v.code, "mailbox full"};
      return {BounceClass::soft, v.code, "mailbox status"};
    case 3: return {BounceClass::soft, v.code, "mail system status"};
    case 4:
      if (c.detail == 1 || c.detail == 4) return {BounceClass::hard, v.code, "unable to route"};
      return {BounceClass::soft, v.code, "network or routing status"};
    case 5: return {BounceClass::soft, v.code, "protocol status"};
    case 6: return {BounceClass::policy, v.code, "message content rejected"};
    default: return {BounceClass::unknown, v.code, "unrecognised status"};
  }
}

}  // namespace

std::string_view to_string(BounceClass c) {
  switch (c) {
    case BounceClass::hard: return "hard";
    case BounceClass::soft: return "soft";
    case BounceClass::policy: return "policy";
    case BounceClass::unknown: return "unknown";
  }
  return "unknown";
}

std::string EnhancedCode::text() const {
  return std::to_string(klass) + "." + std::to_string(subject) + "." + std::to_string(detail);
}

std::optional<EnhancedCode> find_enhanced_code(std::string_view text) {
  for (std::size_t i = 0; i + 5 <= text.size(); ++i) {
    char k = text[i];
    if ((k != '2' && k != '4' && k != '5') || text[i + 1] != '.') continue;
    if (i > 0 && (is_digit(text[i - 1]) || text[i - 1] == '.')) continue;
    std::size_t j = i + 2;
    int subject = 0, detail = 0, n = 0;
    while (j < text.size() && is_digit(text[j]) && n < 3) subject = subject * 10 + (text[j++] - '0'), ++n;
    if (n == 0 || j >= text.size() || text[j] != '.') continue;
    ++j;
    n = 0;
    while (j < text.size() && is_digit(text[j]) && n < 3) detail = detail * 10 + (text[j++] - '0'), ++n;
    if (n == 0) continue;
    if (j < text.size() && (is_digit(text[j]) || (text[j] == '.' && j + 1 < text.size() && is_digit(text[j + 1]))))
      continue;  // part of a longer number such as an IP address
    return EnhancedCode{k - '0', subject, detail};
  }
  return std::nullopt;
}

std::optional<int> find_basic_code(std::string_view text) {
  std::string lower = util::to_lower(text);
  std::string_view t = lower;
  std::size_t semi = t.find("smtp;");
  if (semi != std::string_view::npos) t.remove_prefix(semi + 5);
  t = util::trim(t);
  // "550-5.1.1" (continuation) and "550 5.1.1" both start with the code.
  if (t.size() >= 3 && (t[0] == '2' || t[0] == '4' || t[0] == '5') && is_digit(t[1]) && is_digit(t[2]) &&
      (t.size() == 3 || !is_digit(t[3])))
    return (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
  return std::nullopt;
}

BounceVerdict classify_bounce(std::string_view status, std::string_view diagnostic, std::string_view action) {
  std::string lower = util::to_lower(diagnostic);
  auto from_status = find_enhanced_code(status);
  auto from_diag = find_enhanced_code(diagnostic);
  // "5.0.0" says little; a diagnostic that names the subject says more.
  std::optional<EnhancedCode> code = from_status;
  if (!code || (code->subject == 0 && code->detail == 0 && from_diag && from_diag->klass == code->klass))
    code = from_diag ? from_diag : code;
  auto basic = find_basic_code(diagnostic);
  std::string act = util::to_lower(util::trim(action));

  bool permanent = (code && code->klass == 5) || (!code && basic && *basic >= 500) ||
                   (!code && !basic && act == "failed");
  bool temporary = (code && code->klass == 4) || (!code && basic && *basic >= 400 && *basic < 500) ||
                   act == "delayed";

  // Phrases refine what a code leaves open: a generic 5.0.0/550 with "user unknown", a 5.5.0
  // "mailbox unavailable", a "mailbox full" sent as 5.x.x.
  if (const char* p = find_phrase(lower, kPolicyPhrases); p && (permanent || temporary)) {
    if (!code || code->subject == 7 || code->subject == 0 || code->subject == 5 || code->subject == 3)
      return {BounceClass::policy, code ? code->text() : (basic ? std::to_string(*basic) : ""), std::string("policy: ") + p};
  }
  if (const char* p = find_phrase(lower, kFullPhrases); p && (permanent || temporary) && (!code || code->subject != 7))
    return {BounceClass::soft, code ? code->text() : (basic ? std::to_string(*basic) : ""), p};
  if (const char* p = find_phrase(lower, kHardPhrases); p && permanent && (!code || code->subject == 0 || code->subject == 5))
    return {BounceClass::hard, code ? code->text() : (basic ? std::to_string(*basic) : ""), p};

  if (code && !(code->subject == 0 && code->detail == 0)) {
    BounceVerdict v = by_enhanced(*code);
    if (act == "delayed" && v.klass == BounceClass::hard) v.klass = BounceClass::soft;
    return v;
  }
  if (code && code->klass == 4) return {BounceClass::soft, code->text(), "temporary failure"};
  if (basic) {
    std::string b = std::to_string(*basic);
    switch (*basic) {
      case 421: case 450: case 451: case 452: return {BounceClass::soft, b, "temporary failure"};
      case 552: return {BounceClass::soft, b, "exceeded storage allocation"};
      case 550: case 551: case 553: return {BounceClass::hard, b, "mailbox unavailable"};
      case 554: return {BounceClass::hard, b, "transaction failed"};
      default: break;
    }
    if (*basic >= 400 && *basic < 500) return {BounceClass::soft, b, "temporary failure"};
    if (*basic >= 500) return {BounceClass::hard, b, "permanent failure"};
  }
  if (code && code->klass == 5) return {BounceClass::hard, code->text(), "permanent failure"};
  if (act == "delayed") return {BounceClass::soft, "", "delivery delayed"};
  return {BounceClass::unknown, code ? code->text() : "", "no recognisable status"};
}

}  // namespace campaignd::tracking::inbound
