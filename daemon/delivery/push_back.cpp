#include "daemon/delivery/push_back.hpp"

#include <array>

#include "daemon/util/strings.hpp"

namespace campaignd::delivery {

bool is_throttling_reply(int code, std::string_view enhanced, std::string_view text) {
  if (code < 400 || code >= 500) return false;
  if (code == 421 || code == 454) return true;
  if (enhanced.starts_with("4.7.")) return true;
  static constexpr std::array<std::string_view, 8> kWords = {"rate limit", "ratelimit", "rate-limit", "sending rate",
                                                            "throttl",    "too many",  "too fast",   "slow down"};
  auto lower = util::to_lower(text);
  for (auto word : kWords)
    if (lower.find(word) != std::string::npos) return true;
  return false;
}

PushBack classify_push_back(const transport::SendResult& result) {
  using transport::Outcome;
  using transport::ReplyStage;
  if (result.outcome == Outcome::sent) return PushBack::none;
  if (result.outcome == Outcome::failed) {
    // A permanent refusal of the session itself (e.g. 554 greeting) is about the relay too.
    return result.stage == ReplyStage::session ? PushBack::relay_down : PushBack::message;
  }
  if (result.stage == ReplyStage::none || result.stage == ReplyStage::session) return PushBack::relay_down;
  if (is_throttling_reply(result.code, result.enhanced, result.reply))
    return result.stage == ReplyStage::rcpt ? PushBack::domain_throttle : PushBack::relay_throttle;
  return PushBack::message;
}

}  // namespace campaignd::delivery
