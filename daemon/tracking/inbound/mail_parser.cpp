#include "daemon/tracking/inbound/mail_parser.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

#include "daemon/util/strings.hpp"

namespace campaignd::tracking::inbound {

namespace {

// ---------------------------------------------------------------------------------------------
// Lines

// The line at `pos` without its end (CRLF or LF); `pos` moves past the end.
std::string_view next_line(std::string_view text, std::size_t& pos) {
  std::size_t start = pos;
  std::size_t nl = text.find('\n', pos);
  if (nl == std::string_view::npos) {
    pos = text.size();
    return text.substr(start);
  }
  pos = nl + 1;
  std::size_t end = nl;
  if (end > start && text[end - 1] == '\r') --end;
  return text.substr(start, end - start);
}

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

bool valid_field_name(std::string_view name) {
  if (name.empty()) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u >= 33 && u <= 126 && c != ':';
  });
}

void warn(std::vector<std::string>* warnings, std::string message) {
  if (warnings && warnings->size() < 100) warnings->push_back(std::move(message));
}

// ---------------------------------------------------------------------------------------------
// UTF-8

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr std::uint32_t kReplacement = 0xFFFD;

// Keeps well-formed UTF-8 (no overlongs, surrogates or values past U+10FFFF); every other
// byte becomes U+FFFD.
std::string sanitize_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    auto b = static_cast<unsigned char>(in[i]);
    if (b < 0x80) {
      out.push_back(static_cast<char>(b));
      ++i;
      continue;
    }
    int len = 0;
    std::uint32_t cp = 0, min = 0;
    if ((b & 0xE0) == 0xC0) len = 2, cp = b & 0x1F, min = 0x80;
    else if ((b & 0xF0) == 0xE0) len = 3, cp = b & 0x0F, min = 0x800;
    else if ((b & 0xF8) == 0xF0) len = 4, cp = b & 0x07, min = 0x10000;
    bool ok = len > 0 && i + static_cast<std::size_t>(len) <= in.size();
    for (int k = 1; ok && k < len; ++k) {
      auto c = static_cast<unsigned char>(in[i + static_cast<std::size_t>(k)]);
      if ((c & 0xC0) != 0x80) ok = false;
      else cp = (cp << 6) | (c & 0x3F);
    }
    if (ok && (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))) ok = false;
    if (ok) {
      out.append(in.substr(i, static_cast<std::size_t>(len)));
      i += static_cast<std::size_t>(len);
    } else {
      append_utf8(out, kReplacement);
      ++i;
    }
  }
  return out;
}

// windows-1252 0x80..0x9F; 0 where the code page leaves the byte undefined.
constexpr std::array<std::uint16_t, 32> kCp1252High = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

std::uint32_t latin9(unsigned char b) {
  switch (b) {
    case 0xA4: return 0x20AC;
    case 0xA6: return 0x0160;
    case 0xA8: return 0x0161;
    case 0xB4: return 0x017D;
    case 0xB8: return 0x017E;
    case 0xBC: return 0x0152;
    case 0xBD: return 0x0153;
    case 0xBE: return 0x0178;
    default: return b;
  }
}

std::string normalize_charset(std::string_view charset) {
  std::string c = util::to_lower(util::trim(charset));
  if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
  auto star = c.find('*');  // RFC 2231 language suffix
  if (star != std::string::npos) c.resize(star);
  return c;
}

// ---------------------------------------------------------------------------------------------
// Content-Type and parameters

// Splits on `sep` outside double quotes and parentheses.
std::vector<std::string_view> split_outside_quotes(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  bool quoted = false;
  int comment = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '\\') ++i;
      else if (c == '"') quoted = false;
    } else if (c == '"' && comment == 0) {
      quoted = true;
    } else if (c == '(') {
      ++comment;
    } else if (c == ')' && comment > 0) {
      --comment;
    } else if (c == sep && comment == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

std::string unquote(std::string_view v) {
  v = util::trim(v);
  if (v.size() >= 2 && v.front() == '"') {
    std::string out;
    for (std::size_t i = 1; i < v.size(); ++i) {
      if (v[i] == '\\' && i + 1 < v.size()) out.push_back(v[++i]);
      else if (v[i] == '"') break;
      else out.push_back(v[i]);
    }
    return out;
  }
  // An unquoted token ends at whitespace or a comment.
  std::size_t end = v.find_first_of(" \t(");
  return std::string(v.substr(0, end));
}

// ---------------------------------------------------------------------------------------------
// Entities

struct ParseContext {
  const ParseLimits& limits;
  std::vector<std::string>& warnings;
  std::size_t parts = 1;
  bool part_limit_warned = false;
  bool depth_warned = false;
};

std::string decode_transfer(std::string_view body, const std::string& encoding, ParseContext& ctx) {
  if (encoding == "base64") {
    bool ok = true;
    std::string out = decode_base64(body, &ok);
    if (!ok) warn(&ctx.warnings, "invalid base64 skipped");
    return out;
  }
  if (encoding == "quoted-printable") return decode_quoted_printable(body);
  return std::string(body);
}

// The bodies between the delimiter lines of `boundary`; `closed` tells whether the close
// delimiter was seen.
std::vector<std::string_view> split_multipart(std::string_view text, std::string_view boundary, bool& found,
                                              bool& closed) {
  std::vector<std::string_view> parts;
  std::string delim = "--";
  delim += boundary;
  found = closed = false;
  bool in_part = false;
  std::size_t part_start = 0, pos = 0;
  while (pos < text.size()) {
    std::size_t line_start = pos;
    std::string_view line = next_line(text, pos);
    if (line.size() < delim.size() || line.substr(0, delim.size()) != delim) continue;
    std::string_view tail = line.substr(delim.size());
    bool close = tail.size() >= 2 && tail.substr(0, 2) == "--";
    if (close) tail.remove_prefix(2);
    if (!util::trim(tail).empty()) continue;
    found = true;
    if (in_part) {
      // The line break before a delimiter belongs to the delimiter.
      std::size_t end = line_start;
      if (end > part_start && text[end - 1] == '\n') --end;
      if (end > part_start && text[end - 1] == '\r') --end;
      parts.push_back(text.substr(part_start, end - part_start));
    }
    if (close) {
      closed = true;
      return parts;
    }
    in_part = true;
    part_start = pos;
  }
  if (in_part) parts.push_back(text.substr(part_start));
  return parts;
}

void parse_entity(std::string_view text, int depth, bool digest_child, ParseContext& ctx, MimePart& part);

void parse_body(std::string_view body, int depth, ParseContext& ctx, MimePart& part) {
  const ContentType& ct = part.content_type;
  if (ct.type == "multipart") {
    std::string boundary = ct.param("boundary");
    if (boundary.empty() || boundary.size() > 200) {
      warn(&ctx.warnings, "multipart without a usable boundary: kept as text");
      part.body = sanitize_utf8(body);
      return;
    }
    if (depth >= ctx.limits.max_depth) {
      if (!ctx.depth_warned) warn(&ctx.warnings, "nesting deeper than " + std::to_string(ctx.limits.max_depth) + ": not descended");
      ctx.depth_warned = true;
      return;
    }
    bool found = false, closed = false;
    auto pieces = split_multipart(body, boundary, found, closed);
    if (!found) {
      warn(&ctx.warnings, "boundary \"" + boundary + "\" not found: kept as text");
      part.body = sanitize_utf8(body);
      return;
    }
    if (!closed) warn(&ctx.warnings, "multipart without its closing boundary");
    bool digest = ct.subtype == "digest";
    for (std::string_view piece : pieces) {
      if (ctx.parts >= ctx.limits.max_parts) {
        if (!ctx.part_limit_warned) warn(&ctx.warnings, "more than " + std::to_string(ctx.limits.max_parts) + " parts: the rest skipped");
        ctx.part_limit_warned = true;
        return;
      }
      ++ctx.parts;
      part.children.emplace_back();
      parse_entity(piece, depth + 1, digest, ctx, part.children.back());
    }
    return;
  }
  std::string decoded = decode_transfer(body, part.transfer_encoding, ctx);
  std::string mime = ct.mime_type();
  if (ct.type == "message" && (ct.subtype == "rfc822" || ct.subtype == "global")) {
    if (depth >= ctx.limits.max_depth || ctx.parts >= ctx.limits.max_parts) {
      warn(&ctx.warnings, "embedded message not parsed: too deep or too many parts");
      part.body = std::move(decoded);
      return;
    }
    ++ctx.parts;
    part.children.emplace_back();
    parse_entity(decoded, depth + 1, false, ctx, part.children.back());
    return;
  }
  if (mime == "text/rfc822-headers" || mime == "message/global-headers") {
    part.embedded_headers = parse_header_block(decoded, nullptr, ctx.limits, &ctx.warnings);
    part.body = sanitize_utf8(decoded);
    return;
  }
  if (ct.type == "text") {
    part.body = to_utf8(decoded, ct.param("charset"));
    return;
  }
  part.body = std::move(decoded);
}

void parse_entity(std::string_view text, int depth, bool digest_child, ParseContext& ctx, MimePart& part) {
  std::string_view rest;
  part.headers = parse_header_block(text, &rest, ctx.limits, &ctx.warnings);
  if (auto ct = part.headers.get("Content-Type")) {
    part.content_type = parse_content_type(*ct);
  } else if (digest_child) {
    part.content_type.type = "message";
    part.content_type.subtype = "rfc822";
  }
  std::string cte = util::to_lower(util::trim(part.headers.value("Content-Transfer-Encoding")));
  part.transfer_encoding = cte.empty() ? "7bit" : cte;
  parse_body(rest, depth, ctx, part);
}

// Depth-first search for the reply text, outside attachments and embedded messages.
const MimePart* find_text(const MimePart& part, std::string_view subtype) {
  std::string disposition = util::to_lower(part.headers.value("Content-Disposition"));
  if (disposition.rfind("attachment", 0) == 0) return nullptr;
  if (part.content_type.type == "text" && part.content_type.subtype == subtype) return &part;
  if (!part.is_multipart()) return nullptr;
  for (const auto& child : part.children)
    if (const MimePart* found = find_text(child, subtype)) return found;
  return nullptr;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// HeaderList, ContentType

std::optional<std::string> HeaderList::get(std::string_view name) const {
  for (const auto& f : fields_)
    if (util::iequals(f.name, name)) return f.value;
  return std::nullopt;
}

std::vector<std::string> HeaderList::get_all(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& f : fields_)
    if (util::iequals(f.name, name)) out.push_back(f.value);
  return out;
}

bool HeaderList::has_prefix(std::string_view prefix) const {
  for (const auto& f : fields_)
    if (f.name.size() >= prefix.size() && util::iequals(std::string_view(f.name).substr(0, prefix.size()), prefix))
      return true;
  return false;
}

std::string ContentType::param(const std::string& lower_case_name) const {
  auto it = params.find(lower_case_name);
  return it == params.end() ? std::string() : it->second;
}

ContentType parse_content_type(std::string_view value) {
  ContentType ct;
  auto pieces = split_outside_quotes(value, ';');
  std::string type = util::to_lower(util::trim(pieces.front()));
  auto paren = type.find('(');
  if (paren != std::string::npos) type = std::string(util::trim(std::string_view(type).substr(0, paren)));
  auto slash = type.find('/');
  if (slash != std::string::npos && slash > 0 && slash + 1 < type.size() &&
      type.find_first_of(" \t\"") == std::string::npos) {
    ct.type = type.substr(0, slash);
    ct.subtype = type.substr(slash + 1);
  }
  for (std::size_t i = 1; i < pieces.size(); ++i) {
    auto eq = pieces[i].find('=');
    if (eq == std::string_view::npos) continue;
    std::string name = util::to_lower(util::trim(pieces[i].substr(0, eq)));
    std::string val = unquote(pieces[i].substr(eq + 1));
    if (!name.empty() && name.back() == '*') {  // RFC 2231: charset'language'percent-encoded
      name.pop_back();
      auto q1 = val.find('\'');
      auto q2 = q1 == std::string::npos ? q1 : val.find('\'', q1 + 1);
      val = util::percent_decode(q2 == std::string::npos ? val : val.substr(q2 + 1));
    }
    if (!name.empty() && !ct.params.count(name)) ct.params[name] = val;
  }
  return ct;
}

// ---------------------------------------------------------------------------------------------
// Header blocks and messages

HeaderList parse_header_block(std::string_view text, std::string_view* rest, const ParseLimits& limits,
                              std::vector<std::string>* warnings) {
  HeaderList headers;
  std::string name, value;
  bool have = false, cut_warned = false, count_warned = false;
  auto flush = [&] {
    if (!have) return;
    have = false;
    if (headers.size() >= limits.max_headers) {
      if (!count_warned) warn(warnings, "more than " + std::to_string(limits.max_headers) + " header fields: the rest dropped");
      count_warned = true;
      return;
    }
    headers.add(std::move(name), std::string(util::trim(value)));
  };
  std::size_t pos = 0;
  // An mbox "From " separator line is not a header.
  if (text.substr(0, 5) == "From ") next_line(text, pos);
  while (pos < text.size()) {
    std::size_t line_start = pos;
    std::string_view line = next_line(text, pos);
    if (line.empty()) break;
    if (is_wsp(line.front())) {
      if (!have) continue;  // a continuation of nothing
      if (value.size() + line.size() > limits.max_header_value_bytes) {
        if (!cut_warned) warn(warnings, "header field " + name + " cut to " + std::to_string(limits.max_header_value_bytes) + " bytes");
        cut_warned = true;
        continue;
      }
      value += line;  // unfolding drops the line break and keeps the whitespace
      continue;
    }
    auto colon = line.find(':');
    std::string_view field_name = colon == std::string_view::npos ? std::string_view() : line.substr(0, colon);
    while (!field_name.empty() && is_wsp(field_name.back())) field_name.remove_suffix(1);  // obsolete "Name :"
    if (!valid_field_name(field_name)) {
      warn(warnings, "header section ended without a blank line");
      pos = line_start;
      break;
    }
    flush();
    name = std::string(field_name);
    std::string_view v = line.substr(colon + 1);
    if (v.size() > limits.max_header_value_bytes) {
      if (!cut_warned) warn(warnings, "header field " + name + " cut to " + std::to_string(limits.max_header_value_bytes) + " bytes");
      cut_warned = true;
      v = v.substr(0, limits.max_header_value_bytes);
    }
    value.assign(v);
    have = true;
  }
  flush();
  if (rest) *rest = text.substr(std::min(pos, text.size()));
  return headers;
}

Result<ParsedMessage> parse_message(std::string_view raw, const ParseLimits& limits) {
  if (util::trim(raw).empty()) return fail("empty message");
  if (raw.size() > limits.max_message_bytes)
    return fail("message of " + std::to_string(raw.size()) + " bytes is over the limit of " +
                std::to_string(limits.max_message_bytes));
  ParsedMessage msg;
  ParseContext ctx{limits, msg.warnings};
  parse_entity(raw, 0, false, ctx, msg.root);
  if (msg.root.headers.empty()) return fail("line 1: not an RFC 5322 message (no header field)");
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Decoders

std::string decode_base64(std::string_view text, bool* ok) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  bool clean = true, ended = false;
  for (char c : text) {
    int d;
    if (c >= 'A' && c <= 'Z') d = c - 'A';
    else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
    else if (c >= '0' && c <= '9') d = c - '0' + 52;
    else if (c == '+' || c == '-') d = 62;
    else if (c == '/' || c == '_') d = 63;
    else {
      if (c == '=') ended = true;
      else if (!std::isspace(static_cast<unsigned char>(c))) clean = false;
      continue;
    }
    if (ended) {  // data after padding: a second encoded run, decode it too
      ended = false;
      acc = 0;
      bits = 0;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) clean = false;  // a lone trailing character carries no whole byte
  if (ok) *ok = clean;
  return out;
}

std::string decode_quoted_printable(std::string_view text, bool underscore_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '_' && underscore_is_space) {
      out.push_back(' ');
    } else if (c == '=') {
      int hi = i + 1 < text.size() ? util::hex_value(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? util::hex_value(text[i + 2]) : -1;
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
      // A soft line break: "=" and optional whitespace, then the line end.
      std::size_t j = i + 1;
      while (j < text.size() && is_wsp(text[j])) ++j;
      if (j < text.size() && text[j] == '\r') ++j;
      if (j < text.size() && text[j] == '\n') {
        i = j;
        continue;
      }
      if (j >= text.size()) {
        i = j;
        continue;
      }
      out.push_back('=');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string to_utf8(std::string_view bytes, std::string_view charset) {
  std::string cs = normalize_charset(charset);
  bool latin1 = cs == "iso-8859-1" || cs == "iso8859-1" || cs == "iso_8859-1" || cs == "latin1" ||
                cs == "latin-1" || cs == "l1";
  bool latin9_cs = cs == "iso-8859-15" || cs == "iso8859-15" || cs == "latin9" || cs == "latin-9";
  bool cp1252 = cs == "windows-1252" || cs == "cp1252";
  if (!latin1 && !latin9_cs && !cp1252) return sanitize_utf8(bytes);
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 4);
  for (char ch : bytes) {
    auto b = static_cast<unsigned char>(ch);
    std::uint32_t cp = b;
    if (cp1252 && b >= 0x80 && b <= 0x9F) cp = kCp1252High[b - 0x80] ? kCp1252High[b - 0x80] : kReplacement;
    else if (latin9_cs) cp = latin9(b);
    append_utf8(out, cp);
  }
  return out;
}

std::string decode_rfc2047(std::string_view value) {
  std::string out;
  std::string pending_bytes, pending_charset;  // adjacent words of one charset decode together
  std::string gap;                             // whitespace after an encoded-word
  bool after_word = false;
  auto flush_pending = [&] {
    if (!pending_bytes.empty()) out += to_utf8(pending_bytes, pending_charset);
    pending_bytes.clear();
  };
  std::size_t i = 0;
  while (i < value.size()) {
    if (value[i] == '=' && i + 1 < value.size() && value[i + 1] == '?') {
      // =?charset?E?text?=
      std::size_t q1 = value.find('?', i + 2);
      std::size_t q2 = q1 == std::string_view::npos ? q1 : value.find('?', q1 + 1);
      std::size_t end = q2 == std::string_view::npos ? q2 : value.find("?=", q2 + 1);
      bool ok = end != std::string_view::npos && q2 == q1 + 2 && q1 > i + 2 && end - i <= 1024;
      if (ok) {
        char enc = static_cast<char>(std::tolower(static_cast<unsigned char>(value[q1 + 1])));
        std::string charset = normalize_charset(value.substr(i + 2, q1 - i - 2));
        std::string_view payload = value.substr(q2 + 1, end - q2 - 1);
        if ((enc == 'b' || enc == 'q') && payload.find_first_of(" \t") == std::string_view::npos) {
          std::string bytes = enc == 'b' ? decode_base64(payload) : decode_quoted_printable(payload, true);
          if (!after_word || charset != pending_charset) {
            flush_pending();
            if (!after_word) out += sanitize_utf8(gap);
          }
          gap.clear();
          pending_charset = charset;
          pending_bytes += bytes;
          after_word = true;
          i = end + 2;
          continue;
        }
      }
    }
    if (after_word && is_wsp(value[i])) {
      gap.push_back(value[i]);
      ++i;
      continue;
    }
    if (after_word) {
      flush_pending();
      out += gap;
      gap.clear();
      after_word = false;
    }
    std::size_t next = value.find("=?", i + 1);
    std::size_t stop = next == std::string_view::npos ? value.size() : next;
    out += sanitize_utf8(value.substr(i, stop - i));
    i = stop;
  }
  flush_pending();
  out += gap;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Identifiers and addresses

std::vector<std::string> message_ids(std::string_view value) {
  std::vector<std::string> ids;
  std::size_t pos = 0;
  while (ids.size() < 200) {
    std::size_t open = value.find('<', pos);
    if (open == std::string_view::npos) break;
    std::size_t close = value.find('>', open + 1);
    if (close == std::string_view::npos) break;
    std::string_view id = util::trim(value.substr(open + 1, close - open - 1));
    if (!id.empty() && id.find_first_of(" \t<") == std::string_view::npos) ids.emplace_back(id);
    pos = close + 1;
  }
  if (ids.empty()) {
    std::string_view bare = util::trim(value);
    if (!bare.empty() && bare.find('@') != std::string_view::npos && bare.find_first_of(" \t<>,") == std::string_view::npos)
      ids.emplace_back(bare);
  }
  return ids;
}

std::string address_of(std::string_view value) {
  std::size_t open = value.rfind('<');
  if (open != std::string_view::npos) {
    std::size_t close = value.find('>', open);
    std::string_view inside = value.substr(open + 1, close == std::string_view::npos ? std::string_view::npos : close - open - 1);
    return std::string(util::trim(inside));
  }
  // "addr (Comment)" or a bare address among words: the word with an @.
  std::string cleaned;
  int comment = 0;
  for (char c : value) {
    if (c == '(') ++comment;
    else if (c == ')' && comment > 0) --comment;
    else if (comment == 0) cleaned.push_back(c);
  }
  for (const auto& word : util::split(cleaned, ' '))
    if (word.find('@') != std::string::npos) return std::string(util::trim(word));
  return std::string(util::trim(cleaned));
}

std::vector<std::string> addresses_of(std::string_view value) {
  std::vector<std::string> out;
  // Commas inside quotes, comments and angle brackets do not separate addresses.
  bool quoted = false;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= value.size(); ++i) {
    char c = i < value.size() ? value[i] : ',';
    if (quoted) {
      if (c == '\\') ++i;
      else if (c == '"') quoted = false;
      continue;
    }
    if (c == '"') quoted = true;
    else if (c == '(' || c == '<') ++depth;
    else if ((c == ')' || c == '>') && depth > 0) --depth;
    else if (c == ',' && depth == 0) {
      std::string a = address_of(value.substr(start, i - start));
      if (!a.empty() && out.size() < 500) out.push_back(std::move(a));
      start = i + 1;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text

std::string text_body(const MimePart& root) {
  if (const MimePart* plain = find_text(root, "plain")) return plain->body;
  if (const MimePart* html = find_text(root, "html")) return html_to_text(html->body);
  return {};
}

std::string html_to_text(std::string_view html) {
  std::string out;
  const std::string lower = util::to_lower(html);  // for finding end tags in any case
  int quote_depth = 0;
  bool at_line_start = true, pending_space = false;
  auto newline = [&] {
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out.push_back('\n');
    at_line_start = true;
    pending_space = false;
  };
  auto emit = [&](std::string_view s) {
    if (at_line_start) {
      for (int q = 0; q < quote_depth; ++q) out += "> ";
      at_line_start = false;
    } else if (pending_space) {
      out.push_back(' ');
    }
    pending_space = false;
    out += s;
  };
  std::size_t i = 0;
  while (i < html.size()) {
    char c = html[i];
    if (c == '<') {
      std::size_t close = html.find('>', i);
      if (close == std::string_view::npos) break;
      std::string tag = util::to_lower(html.substr(i + 1, std::min<std::size_t>(close - i - 1, 32)));
      bool end_tag = !tag.empty() && tag.front() == '/';
      std::string name = tag.substr(end_tag ? 1 : 0);
      name = name.substr(0, name.find_first_of(" \t\r\n/"));
      i = close + 1;
      if (!end_tag && (name == "script" || name == "style" || name == "head" || name == "title")) {
        std::size_t skip = lower.find("</" + name, i);
        i = skip == std::string::npos ? html.size() : skip;
        continue;
      }
      if (name == "blockquote") {
        newline();
        quote_depth = std::max(0, quote_depth + (end_tag ? -1 : 1));
      } else if (name == "br" || name == "p" || name == "div" || name == "tr" || name == "li" || name == "h1" ||
                 name == "h2" || name == "h3" || name == "table" || name == "hr") {
        if (name == "br" || !at_line_start) newline();
      }
      continue;
    }
    if (c == '&') {
      std::size_t semi = html.substr(i, 12).find(';');
      if (semi != std::string_view::npos) {
        semi += i;
        std::string entity(html.substr(i + 1, semi - i - 1));
        std::string text;
        if (entity == "amp") text = "&";
        else if (entity == "lt") text = "<";
        else if (entity == "gt") text = ">";
        else if (entity == "quot") text = "\"";
        else if (entity == "apos") text = "'";
        else if (entity == "nbsp") text = " ";
        else if (entity.size() > 1 && entity[0] == '#') {
          long long cp = 0;
          bool hex = entity[1] == 'x' || entity[1] == 'X';
          for (std::size_t k = hex ? 2 : 1; k < entity.size() && cp <= 0x10FFFF; ++k) {
            int d = hex ? util::hex_value(entity[k]) : (std::isdigit(static_cast<unsigned char>(entity[k])) ? entity[k] - '0' : -1);
            if (d < 0) {
              cp = -1;
              break;
            }
            cp = cp * (hex ? 16 : 10) + d;
          }
          if (cp > 0 && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF)) append_utf8(text, static_cast<std::uint32_t>(cp));
        }
        if (!text.empty()) {
          if (text == " ") pending_space = !at_line_start;
          else emit(text);
          i = semi + 1;
          continue;
        }
      }
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      pending_space = !at_line_start;
      ++i;
      continue;
    }
    std::size_t run = i + 1;  // at least one character: an unknown "&" is text
    while (run < html.size() && html[run] != '<' && html[run] != '&' && !std::isspace(static_cast<unsigned char>(html[run])))
      ++run;
    emit(html.substr(i, run - i));
    i = run;
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return sanitize_utf8(out);
}

}  // namespace campaignd::tracking::inbound
