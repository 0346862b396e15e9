// Quoted-printable encoding of a body, line by line.
#include "daemon/render/quoted_printable.hpp"

#include <algorithm>

namespace campaignd::render {

namespace {

constexpr size_t kMaxQpLine = 76;  // RFC 2045 6.7 (5), soft-break '=' included

constexpr char kHex[] = "0123456789ABCDEF";

// Whether c at position i must be written as =XX when it would start an encoded line.
bool needs_escape_at_line_start(std::string_view line, size_t i) {
  return line[i] == '.' || line.substr(i).starts_with("From ");
}

bool is_literal(unsigned char c, bool last) {
  if (c == ' ' || c == '\t') return !last;
  return c >= 33 && c <= 126 && c != '=';
}

void soft_break(std::string& out, size_t& width) {
  out += "=\r\n";
  width = 0;
}

// Runs of literal characters are copied in one append: bodies are mostly plain ASCII.
void encode_line(std::string_view line, std::string& out) {
  const size_t n = line.size();
  size_t width = 0;  // characters on the current encoded line
  size_t i = 0;
  while (i < n) {
    if (width == 0 && needs_escape_at_line_start(line, i)) {
      out += '=';
      out += kHex[static_cast<unsigned char>(line[i]) >> 4];
      out += kHex[static_cast<unsigned char>(line[i]) & 0xF];
      width = 3;
      ++i;
      continue;
    }
    size_t run_end = i;
    while (run_end < n && is_literal(static_cast<unsigned char>(line[run_end]), run_end + 1 == n)) ++run_end;
    // Room must remain for the soft break '=', except after the line's last character.
    const size_t room = kMaxQpLine - 1 - width;
    if (run_end > i) {
      size_t take = std::min(run_end - i, room);
      if (run_end == n && run_end - i == room + 1) take = room + 1;
      if (take == 0) {
        soft_break(out, width);
        continue;
      }
      out.append(line.substr(i, take));
      width += take;
      i += take;
      continue;
    }
    const auto c = static_cast<unsigned char>(line[i]);
    if (width + 3 > (i + 1 == n ? kMaxQpLine : kMaxQpLine - 1)) {
      soft_break(out, width);
      continue;
    }
    out += '=';
    out += kHex[c >> 4];
    out += kHex[c & 0xF];
    width += 3;
    ++i;
  }
  out += "\r\n";
}

}  // namespace

std::string qp_encode(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 8);
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find_first_of("\r\n", start);
    if (end == std::string_view::npos) {
      encode_line(body.substr(start), out);
      break;
    }
    encode_line(body.substr(start, end - start), out);
    start = end + ((body[end] == '\r' && end + 1 < body.size() && body[end + 1] == '\n') ? 2 : 1);
  }
  return out;
}

}  // namespace campaignd::render
