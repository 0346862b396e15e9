// Quoted-printable encoding of a body, line by line.
#include "daemon/render/quoted_printable.hpp"

#include <algorithm>
#include <array>

namespace campaignd::render {

namespace {

constexpr size_t kMaxQpLine = 76;  // RFC 2045 6.7 (5), soft-break '=' included

constexpr char kHex[] = "0123456789ABCDEF";

// Whether c at position i must be written as =XX when it would start an encoded line.
bool needs_escape_at_line_start(std::string_view line, size_t i) {
  return line[i] == '.' || line.substr(i).starts_with("From ");
}

// Bytes written as themselves: printable ASCII but '=', and space and tab (except at the end
// of a line, which encode_line handles).
constexpr auto kLiteral = [] {
  std::array<bool, 256> table{};
  for (int c = 33; c <= 126; ++c) table[static_cast<size_t>(c)] = c != '=';
  table[' '] = table['\t'] = true;
  return table;
}();

void soft_break(std::string& out, size_t& width) {
  out += "=\r\n";
  width = 0;
}

void escape(unsigned char c, std::string& out) {
  const char encoded[3] = {'=', kHex[c >> 4], kHex[c & 0xF]};
  out.append(encoded, 3);
}

// Runs of literal characters are copied in one append: bodies are mostly plain ASCII. A run is
// found once, however many encoded lines it spans (long HTML lines span dozens).
void encode_line(std::string_view line, std::string& out) {
  const size_t n = line.size();
  size_t width = 0;    // characters on the current encoded line
  size_t i = 0;
  size_t run_end = 0;  // literal characters run from i to here
  while (i < n) {
    if (width == 0 && needs_escape_at_line_start(line, i)) {
      escape(static_cast<unsigned char>(line[i]), out);
      width = 3;
      ++i;
      continue;
    }
    if (run_end <= i) {
      run_end = i;
      while (run_end < n && kLiteral[static_cast<unsigned char>(line[run_end])]) ++run_end;
      // A space or tab that ends the line would be lost in transit (RFC 2045 6.7 (3)).
      if (run_end == n && run_end > i && (line[n - 1] == ' ' || line[n - 1] == '\t')) --run_end;
    }
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
    escape(c, out);
    width += 3;
    ++i;
  }
  out += "\r\n";
}

// The next CR or LF at or after `start`. string_view::find_first_of calls memchr over the set
// once per character of the body, which showed as the render's top cost in a profile.
size_t next_line_break(std::string_view body, size_t start) {
  for (size_t i = start; i < body.size(); ++i)
    if (body[i] == '\r' || body[i] == '\n') return i;
  return std::string_view::npos;
}

}  // namespace

std::string qp_encode(std::string_view body) {
  std::string out;
  out.reserve(body.size() + body.size() / 8);
  size_t start = 0;
  while (start < body.size()) {
    size_t end = next_line_break(body, start);
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
