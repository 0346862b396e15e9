// Reply-line parsing for the SMTP transport; kept apart so it can be tested on bad input.
#include "daemon/transport/smtp_reply.hpp"

#include <algorithm>

namespace campaignd::transport {

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// 1 to 3 digits at s[pos]; advances pos. RFC 3463: subject and detail are 1*3digit.
bool take_number(std::string_view s, size_t& pos) {
  size_t start = pos;
  while (pos < s.size() && pos - start < 3 && is_digit(s[pos])) ++pos;
  return pos > start && (pos == s.size() || !is_digit(s[pos]));
}

}  // namespace

std::optional<SmtpReplyLine> parse_reply_line(std::string_view line) {
  if (line.size() < 3 || !is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2])) return std::nullopt;
  if (line[0] < '2' || line[0] > '5') return std::nullopt;
  SmtpReplyLine out;
  out.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  if (line.size() == 3) return out;
  if (line[3] != ' ' && line[3] != '-') return std::nullopt;
  out.last = line[3] == ' ';
  out.text = line.substr(4);
  return out;
}

std::string parse_enhanced_code(std::string_view text, int code) {
  if (text.size() < 5 || text[0] != static_cast<char>('0' + code / 100) || text[1] != '.') return {};
  size_t pos = 2;
  if (!take_number(text, pos) || pos >= text.size() || text[pos] != '.') return {};
  ++pos;
  if (!take_number(text, pos)) return {};
  if (pos < text.size() && text[pos] != ' ') return {};
  return std::string(text.substr(0, pos));
}

void ReplyAssembler::feed(std::string_view bytes) {
  partial_.append(bytes);
  size_t start = 0;
  for (size_t lf; (lf = partial_.find('\n', start)) != std::string::npos; start = lf + 1) {
    std::string_view line(partial_.data() + start, lf - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    add_line(line);
  }
  partial_.erase(0, start);
}

void ReplyAssembler::add_line(std::string_view raw) {
  auto line = parse_reply_line(raw);
  if (!line) return;
  if (pending_ && pending_->code != line->code) pending_.reset();  // a broken continuation
  if (!pending_) pending_ = SmtpReply{line->code, {}, {}, {}};
  auto text = line->text;
  pending_->lines.emplace_back(text);
  auto enhanced = parse_enhanced_code(text, line->code);
  if (!enhanced.empty()) {
    if (pending_->enhanced.empty()) pending_->enhanced = enhanced;
    text.remove_prefix(std::min(text.size(), enhanced.size() + 1));
  }
  if (!text.empty()) {
    if (!pending_->text.empty()) pending_->text += ' ';
    pending_->text.append(text);
  }
  if (line->last) {
    ready_.push_back(std::move(*pending_));
    pending_.reset();
  }
}

std::optional<SmtpReply> ReplyAssembler::next() {
  if (ready_.empty()) return std::nullopt;
  auto out = std::move(ready_.front());
  ready_.pop_front();
  return out;
}

void ReplyAssembler::clear() {
  partial_.clear();
  pending_.reset();
  ready_.clear();
}

}  // namespace campaignd::transport
