// SMTP server replies (RFC 5321 4.2) from the bytes a connection reads, in any chunks:
// reassembles multi-line replies and pulls out the RFC 3463 enhanced status code.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace campaignd::transport {

struct SmtpReply {
  int code = 0;          // 200..599
  std::string enhanced;  // "5.1.1", empty when the server gave none
  std::string text;      // the lines' text without code or enhanced code, joined by a space
  std::vector<std::string> lines;  // each line's text after the code, as sent (EHLO keywords)
};

struct SmtpReplyLine {
  int code = 0;
  bool last = true;  // "250 ok" ends a reply, "250-..." continues it
  std::string_view text;
};

// One reply line without its CRLF; nullopt unless it is three digits 2..5 followed by
// end of line, ' ' or '-'.
std::optional<SmtpReplyLine> parse_reply_line(std::string_view line);

// The enhanced code at the start of text ("5.1.1 User unknown" -> "5.1.1") when its class
// matches the reply code's first digit; empty otherwise.
std::string parse_enhanced_code(std::string_view text, int code);

// Feed it the server's bytes in any chunks; next() yields each complete reply once.
// Lines that are not reply lines (garbage from a broken server) are skipped.
class ReplyAssembler {
 public:
  void feed(std::string_view bytes);
  std::optional<SmtpReply> next();
  void clear();

 private:
  std::string partial_;              // bytes after the last LF
  std::optional<SmtpReply> pending_; // lines of a multi-line reply seen so far
  std::deque<SmtpReply> ready_;      // complete replies not yet taken, oldest first
  void add_line(std::string_view line);
};

}  // namespace campaignd::transport
