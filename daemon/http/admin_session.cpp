#include "daemon/http/admin_session.hpp"

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::http {

namespace {
constexpr std::string_view kVersion = "v1";
constexpr std::size_t kMaxCodes = 64;  // outstanding login links; the oldest go first
}  // namespace

AdminSessions::AdminSessions(std::string admin_token, const util::Clock& clock, std::int64_t ttl_seconds)
    : admin_token_(std::move(admin_token)),
      key_(admin_token_.empty() ? std::string() : util::hmac_sha256(admin_token_, "campaignd admin session key v1")),
      clock_(clock),
      ttl_seconds_(ttl_seconds) {}

bool AdminSessions::token_matches(std::string_view presented) const {
  return enabled() && util::constant_time_equals(presented, admin_token_);
}

std::string AdminSessions::mac(std::string_view payload) const {
  return util::base64url_encode(util::hmac_sha256(key_, payload));
}

std::string AdminSessions::new_session() const {
  std::string payload = std::string(kVersion) + "." + std::to_string(clock_.now() + ttl_seconds_) + "." +
                        util::base64url_encode(util::random_bytes(16));
  return payload + "." + mac(payload);
}

bool AdminSessions::session_valid(std::string_view value) const {
  if (!enabled() || value.size() > 200) return false;
  auto last_dot = value.rfind('.');
  if (last_dot == std::string_view::npos) return false;
  std::string_view payload = value.substr(0, last_dot);
  // Check the MAC before reading anything in the payload.
  if (!util::constant_time_equals(value.substr(last_dot + 1), mac(payload))) return false;
  auto parts = util::split(std::string(payload), '.');
  if (parts.size() != 3 || parts[0] != kVersion) return false;
  long long expires = 0;
  if (!util::parse_int(parts[1], expires)) return false;
  return clock_.now() < expires;
}

std::string AdminSessions::set_cookie(bool secure) const {
  return std::string(kCookieName) + "=" + new_session() + "; Path=/; Max-Age=" + std::to_string(ttl_seconds_) +
         "; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string AdminSessions::clear_cookie(bool secure) {
  return std::string(kCookieName) + "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "");
}

std::string AdminSessions::cookie_value(std::string_view header) {
  // Cookie: name=value; name2=value2 (RFC 6265 section 4.2.1); the first of our name wins.
  std::size_t pos = 0;
  while (pos <= header.size()) {
    std::size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = util::trim(header.substr(pos, end - pos));
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && util::trim(pair.substr(0, eq)) == kCookieName) {
      std::string_view v = util::trim(pair.substr(eq + 1));
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
      return std::string(v);
    }
    pos = end + 1;
  }
  return "";
}

std::string AdminSessions::new_login_code() {
  std::string code = util::base64url_encode(util::random_bytes(32));
  util::UnixTime now = clock_.now();
  std::lock_guard lock(mutex_);
  std::erase_if(codes_, [now](const auto& entry) { return entry.second <= now; });
  while (codes_.size() >= kMaxCodes) {
    auto oldest = codes_.begin();
    for (auto it = codes_.begin(); it != codes_.end(); ++it)
      if (it->second < oldest->second) oldest = it;
    codes_.erase(oldest);
  }
  codes_[util::sha256_hex(code)] = now + kLoginLinkSeconds;
  return code;
}

bool AdminSessions::redeem_login_code(std::string_view code) {
  if (!enabled() || code.empty() || code.size() > 100) return false;
  // Looked up by hash: the map's comparisons reveal nothing about the code itself.
  std::string key = util::sha256_hex(code);
  std::lock_guard lock(mutex_);
  auto it = codes_.find(key);
  if (it == codes_.end()) return false;
  bool fresh = clock_.now() < it->second;
  codes_.erase(it);
  return fresh;
}

bool AdminSessions::attempts_allowed() {
  util::UnixTime now = clock_.now();
  std::lock_guard lock(mutex_);
  while (!failures_.empty() && failures_.front() <= now - 60) failures_.pop_front();
  return failures_.size() < kMaxFailures;
}

void AdminSessions::record_failure() {
  std::lock_guard lock(mutex_);
  failures_.push_back(clock_.now());
  while (failures_.size() > kMaxFailures) failures_.pop_front();
}

}  // namespace campaignd::http
