// Splitting and relaxed canonicalisation for DKIM; kept apart from the signer so the byte-level
// rules can be tested on their own.
#include "daemon/render/dkim_canonical.hpp"

#include "daemon/util/strings.hpp"

namespace campaignd::render {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// RFC 5322 ftext: printable US-ASCII except the colon.
bool is_field_name_char(char c) { return c > 0x20 && c < 0x7f && c != ':'; }

std::string_view trim_wsp_right(std::string_view s) {
  while (!s.empty() && is_wsp(s.back())) s.remove_suffix(1);
  return s;
}

Status check_line_ends(std::string_view message) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r') {
      if (i + 1 >= message.size() || message[i + 1] != '\n')
        return fail("line " + std::to_string(line) + ": bare CR; DKIM signing needs CRLF line ends");
      ++i;
      ++line;
    } else if (message[i] == '\n') {
      return fail("line " + std::to_string(line) + ": bare LF; DKIM signing needs CRLF line ends");
    }
  }
  return {};
}

}  // namespace

Result<DkimSplitMessage> dkim_split_message(std::string_view message) {
  if (auto ok = check_line_ends(message); !ok) return std::unexpected(ok.error());

  DkimSplitMessage out;
  std::size_t pos = 0;
  std::size_t line = 1;
  std::size_t field_start = std::string_view::npos;  // offset of the current field's first line
  std::size_t field_line = 0;

  auto close_field = [&](std::size_t end) -> Status {
    if (field_start == std::string_view::npos) return {};
    std::string_view raw = message.substr(field_start, end - field_start);
    std::size_t colon = raw.find(':');
    // A colon on a continuation line does not count: the name must sit on the first line.
    std::size_t first_eol = raw.find("\r\n");
    if (colon == std::string_view::npos || (first_eol != std::string_view::npos && colon > first_eol))
      return fail("line " + std::to_string(field_line) + ": header line without a colon");
    std::string_view name = trim_wsp_right(raw.substr(0, colon));
    if (name.empty()) return fail("line " + std::to_string(field_line) + ": header field with an empty name");
    for (char c : name)
      if (!is_field_name_char(c))
        return fail("line " + std::to_string(field_line) + ": invalid character in header field name '" +
                    util::strip_controls(name) + "'");
    out.headers.push_back({name, raw.substr(colon + 1), field_line});
    field_start = std::string_view::npos;
    return {};
  };

  while (pos < message.size()) {
    std::size_t eol = message.find("\r\n", pos);
    std::size_t line_end = eol == std::string_view::npos ? message.size() : eol;
    std::string_view text = message.substr(pos, line_end - pos);
    if (text.empty()) {
      // The empty line: everything after its CRLF is the body.
      if (auto ok = close_field(pos >= 2 ? pos - 2 : pos); !ok) return std::unexpected(ok.error());
      out.body = message.substr(std::min(message.size(), line_end + 2));
      return out;
    }
    if (is_wsp(text.front())) {
      if (field_start == std::string_view::npos)
        return fail("line " + std::to_string(line) + ": continuation line before any header field");
    } else {
      if (auto ok = close_field(pos - (pos >= 2 ? 2 : 0)); !ok) return std::unexpected(ok.error());
      field_start = pos;
      field_line = line;
    }
    pos = eol == std::string_view::npos ? message.size() : eol + 2;
    ++line;
  }
  // No empty line: the message is all header, with an empty body.
  std::size_t end = message.ends_with("\r\n") ? message.size() - 2 : message.size();
  if (auto ok = close_field(end); !ok) return std::unexpected(ok.error());
  return out;
}

std::string dkim_relaxed_header(std::string_view name, std::string_view value) {
  std::string out = util::to_lower(util::trim(name));
  out += ':';
  bool pending_space = false;
  bool started = false;
  for (char c : value) {
    if (c == '\r' || c == '\n') continue;  // unfolding: every CRLF inside a field is a fold
    if (is_wsp(c)) {
      pending_space = started;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    started = true;
    out += c;
  }
  return out;
}

std::string dkim_relaxed_body(std::string_view body) {
  std::string out;
  out.reserve(body.size() + 2);
  std::size_t keep = 0;  // length of out through the last line that is not empty
  std::size_t pos = 0;
  while (pos < body.size()) {
    std::size_t eol = body.find("\r\n", pos);
    std::string_view line = body.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? body.size() : eol + 2;

    bool pending_space = false;
    bool has_text = false;
    for (char c : line) {
      if (is_wsp(c)) {
        pending_space = true;
        continue;
      }
      if (pending_space) out += ' ';
      pending_space = false;
      has_text = true;
      out += c;
    }
    out += "\r\n";
    if (has_text) keep = out.size();
  }
  out.resize(keep);
  return out;
}

}  // namespace campaignd::render
