// Quoted-printable encoding of a body, line by line.
#include "daemon/render/quoted_printable.hpp"

namespace campaignd::render {

namespace {

constexpr size_t kMaxQpLine = 76;  // RFC 2045 6.7 (5), soft-break '=' included

constexpr char kHex[] = "0123456789ABCDEF";

// Whether c at position i must be written as =XX when it would start an encoded line.
bool needs_escape_at_line_start(std::string_view line, size_t i) {
  return line[i] == '.' || line.substr(i).starts_with("From ");
}

void encode_line(std::string_view line, std::string& out) {
  size_t width = 0;  // characters on the current encoded line
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    const bool literal = (c == ' ' || c == '\t') ? !last : (c >= 33 && c <= 126 && c != '=');
    bool escape = !literal || (width == 0 && needs_escape_at_line_start(line, i));
    // Room must remain for the soft break '=', except for the line's last character.
    if (width + (escape ? 3 : 1) > (last ? kMaxQpLine : kMaxQpLine - 1)) {
      out += "=\r\n";
      width = 0;
      escape = escape || needs_escape_at_line_start(line, i);  // the soft break made it start a line
    }
    if (escape) {
      out += '=';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      width += 3;
    } else {
      out += static_cast<char>(c);
      ++width;
    }
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
