// RFC 2047 encoded-words and RFC 5322 folding for the headers build_mime writes.
#include "daemon/render/header_encoding.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include "daemon/util/crypto.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::render {

namespace {

constexpr size_t kMaxLine = 998;  // RFC 5322 2.1.1: MUST NOT exceed, CRLF excluded
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

// A piece of a header value and the whitespace before it; a fold goes in front of the
// whitespace, so unfolding (removing the CRLF) gives back the value exactly.
struct Piece {
  std::string space;
  std::string text;
};

bool is_printable_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c <= 0x7e; });
}

bool is_atext(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// Splits at runs of spaces and tabs; the value has been trimmed.
std::vector<Piece> split_at_spaces(std::string_view v) {
  std::vector<Piece> pieces;
  size_t i = 0;
  while (i < v.size()) {
    size_t word = v.find_first_not_of(" \t", i);
    if (word == std::string_view::npos) break;
    size_t end = v.find_first_of(" \t", word);
    if (end == std::string_view::npos) end = v.size();
    pieces.push_back({std::string(v.substr(i, word - i)), std::string(v.substr(word, end - word))});
    i = end;
  }
  return pieces;
}

size_t longest(const std::vector<Piece>& pieces) {
  size_t n = 0;
  for (const auto& p : pieces) n = std::max(n, p.text.size());
  return n;
}

// Whether folding at the spaces can keep every line within 78: the first piece shares its line
// with "Name: ", the others start continuation lines after one space.
bool folds_within_width(const std::vector<Piece>& pieces, std::string_view name) {
  if (pieces.empty()) return true;
  return pieces.front().text.size() + name.size() + 2 <= kFoldWidth && longest(pieces) < kFoldWidth;
}

std::vector<Piece> as_encoded_pieces(std::string_view value, std::string_view name) {
  std::vector<Piece> pieces;
  for (auto& w : encode_words(value, kFoldWidth - name.size() - 2)) pieces.push_back({pieces.empty() ? "" : " ", w});
  return pieces;
}

std::string fold(std::string_view name, const std::vector<Piece>& pieces) {
  std::string out(name);
  out += ':';
  size_t line = out.size();
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::string& space = i == 0 ? std::string(" ") : pieces[i].space;
    const size_t width = space.size() + pieces[i].text.size();
    if (i > 0 && !space.empty() && line + width > kFoldWidth) {
      out += "\r\n";
      line = 0;
    }
    out += space;
    out += pieces[i].text;
    line += width;
  }
  if (pieces.empty()) out += ' ';
  out += "\r\n";
  return out;
}

std::string clean_value(std::string_view value) {
  return std::string(util::trim(util::strip_controls(sanitize_utf8(value))));
}

// Keeps what an addr-spec may hold; the address was validated at the edge, this only makes sure
// nothing in it can end the field or the angle brackets.
std::string clean_address(std::string_view address) {
  std::string out;
  for (char c : address)
    if (c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != ',' && c != '"' && c != '\\') out += c;
  return out;
}

std::string quoted_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

size_t utf8_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead >> 5) == 0x6) return 2;
  if ((lead >> 4) == 0xE) return 3;
  return 4;
}

}  // namespace

std::string sanitize_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) {
      out += s[i++];
      continue;
    }
    size_t len = 0;
    std::uint32_t cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) { len = 2; cp = b0 & 0x1F; }
    else if (b0 >= 0xE0 && b0 <= 0xEF) { len = 3; cp = b0 & 0x0F; }
    else if (b0 >= 0xF0 && b0 <= 0xF4) { len = 4; cp = b0 & 0x07; }
    bool ok = len > 0 && i + len <= s.size();
    for (size_t k = 1; ok && k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      ok = (b & 0xC0) == 0x80;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (ok) {
      const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
      ok = cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += kReplacement;
      ++i;
    }
  }
  return out;
}

std::vector<std::string> encode_words(std::string_view utf8, size_t first_budget) {
  const std::string text = sanitize_utf8(utf8);
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    // "=?UTF-8?B?" + base64 + "?=": 12 characters plus 4 for every 3 octets.
    size_t budget = words.empty() ? std::clamp<size_t>(first_budget, 16, kMaxEncodedWord) : kMaxEncodedWord;
    const size_t max_octets = 3 * ((budget - 12) / 4);
    size_t end = i;
    while (end < text.size()) {
      const size_t n = utf8_length(static_cast<unsigned char>(text[end]));
      if (end - i + n > max_octets) break;
      end += n;
    }
    words.push_back("=?UTF-8?B?" + util::base64_encode(std::string_view(text).substr(i, end - i)) + "?=");
    i = end;
  }
  return words;
}

std::string encode_header_word(std::string_view utf8) {
  std::string out;
  for (const auto& w : encode_words(utf8)) {
    if (!out.empty()) out += ' ';
    out += w;
  }
  return out;
}

std::string unstructured_header(std::string_view name, std::string_view value) {
  const std::string v = clean_value(value);
  auto pieces = split_at_spaces(v);
  const bool plain = is_printable_ascii(v) && v.find("=?") == std::string::npos && folds_within_width(pieces, name);
  return fold(name, plain ? pieces : as_encoded_pieces(v, name));
}

std::string structured_header(std::string_view name, std::string_view value) {
  const std::string v = clean_value(value);
  auto pieces = split_at_spaces(v);
  const bool plain = is_printable_ascii(v) && longest(pieces) + name.size() + 2 < kMaxLine;
  return fold(name, plain ? pieces : as_encoded_pieces(v, name));
}

std::string mailbox_header(std::string_view name, const util::Mailbox& mailbox) {
  const std::string display = clean_value(mailbox.display_name);
  std::vector<Piece> pieces;
  if (!display.empty()) {
    const bool ascii = is_printable_ascii(display) && display.find("=?") == std::string::npos;
    const bool atoms = ascii && std::all_of(display.begin(), display.end(),
                                            [](char c) { return is_atext(c) || c == ' ' || c == '\t'; });
    if (atoms && folds_within_width(split_at_spaces(display), name)) {
      pieces = split_at_spaces(display);
    } else if (ascii && quoted_string(display).size() + name.size() + 2 <= kFoldWidth) {
      pieces.push_back({"", quoted_string(display)});
    } else {
      pieces = as_encoded_pieces(display, name);
    }
  }
  const std::string address = "<" + clean_address(mailbox.address) + ">";
  pieces.push_back({pieces.empty() ? "" : " ", display.empty() ? address.substr(1, address.size() - 2) : address});
  return fold(name, pieces);
}

bool is_valid_field_name(std::string_view name) {
  if (name.empty() || name.size() > 76) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ':'; });
}

}  // namespace campaignd::render
