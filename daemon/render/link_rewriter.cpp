// Link rewriting for click tracking. Both scanners only move forward: a tag, a comment or a
// quoted value that never ends stops the rewriting and the rest is copied as it is, which is
// what keeps them linear on hostile input.
#include "daemon/render/link_rewriter.hpp"

#include <cstdint>

namespace campaignd::render {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }
bool is_alnum(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool istarts_with(std::string_view s, size_t at, std::string_view prefix) {
  return s.size() - at >= prefix.size() && iequals(s.substr(at, prefix.size()), prefix);
}

// Length of "http://" or "https://" at `at`, or 0.
size_t http_scheme_length(std::string_view s, size_t at) {
  if (istarts_with(s, at, "http://")) return 7;
  if (istarts_with(s, at, "https://")) return 8;
  return 0;
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The code point of a numeric reference body ("#39", "#x2F"), or 0 when it is not one we accept.
std::uint32_t numeric_reference(std::string_view body) {
  if (body.size() < 2 || body[0] != '#') return 0;
  bool hex = body[1] == 'x' || body[1] == 'X';
  std::string_view digits = body.substr(hex ? 2 : 1);
  if (digits.empty()) return 0;
  std::uint32_t cp = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (hex && lower(c) >= 'a' && lower(c) <= 'f') d = lower(c) - 'a' + 10;
    else return 0;
    cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
    if (cp > 0x10FFFF) return 0;
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;  // surrogates are not characters
  return cp;
}

// ---- HTML ------------------------------------------------------------------------------------

struct Span {
  size_t begin = 0, end = 0;
};

struct TagScan {
  bool complete = false;      // a closing '>' was found
  size_t end = 0;             // just past the '>'
  bool has_href = false;
  Span href;                  // the value, without its quotes
  bool href_quoted = false;
  bool no_track = false;
};

// Reads the attributes of a tag from `p` (just after its name) to its '>', the way a browser
// tokenizes them: names end at space, '/', '>' or '='; values are "…", '…' or bare.
TagScan scan_attributes(std::string_view html, size_t p) {
  TagScan scan;
  const size_t n = html.size();
  while (true) {
    while (p < n && (is_space(html[p]) || html[p] == '/')) ++p;
    if (p >= n) return scan;
    if (html[p] == '>') {
      scan.complete = true;
      scan.end = p + 1;
      return scan;
    }
    size_t name_begin = p++;  // a leading '=' belongs to the name
    while (p < n && !is_space(html[p]) && html[p] != '/' && html[p] != '>' && html[p] != '=') ++p;
    std::string_view name = html.substr(name_begin, p - name_begin);
    size_t after_name = p;
    while (p < n && is_space(html[p])) ++p;
    Span value{p, p};
    bool quoted = false;
    bool has_value = false;
    if (p < n && html[p] == '=') {
      ++p;
      while (p < n && is_space(html[p])) ++p;
      if (p >= n) return scan;
      has_value = true;
      if (html[p] == '"' || html[p] == '\'') {
        size_t close = html.find(html[p], p + 1);
        if (close == std::string_view::npos) return scan;
        value = {p + 1, close};
        quoted = true;
        p = close + 1;
      } else {
        size_t begin = p;
        while (p < n && !is_space(html[p]) && html[p] != '>') ++p;
        value = {begin, p};
      }
    } else {
      p = after_name;  // an attribute without a value; what follows is the next name
    }
    if (iequals(name, "href") && !scan.has_href && has_value) {  // the first href wins, as in browsers
      scan.has_href = true;
      scan.href = value;
      scan.href_quoted = quoted;
    } else if (iequals(name, "data-no-track")) {
      scan.no_track = true;
    }
  }
}

bool should_track(std::string_view url, const RewriteOptions& options) {
  if (http_scheme_length(url, 0) == 0) return false;
  return options.keep_url.empty() || url != options.keep_url;
}

}  // namespace

std::string decode_html_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '&') {
      out += s[i++];
      continue;
    }
    size_t semi = s.find(';', i + 1);
    if (semi == std::string_view::npos || semi - i > 10) {
      out += s[i++];
      continue;
    }
    std::string_view body = s.substr(i + 1, semi - i - 1);
    char named = 0;
    if (body == "amp") named = '&';
    else if (body == "lt") named = '<';
    else if (body == "gt") named = '>';
    else if (body == "quot") named = '"';
    else if (body == "apos") named = '\'';
    if (named) {
      out += named;
    } else if (std::uint32_t cp = numeric_reference(body); cp != 0) {
      append_utf8(out, cp);
    } else {
      out += s[i++];
      continue;
    }
    i = semi + 1;
  }
  return out;
}

std::string escape_html_attribute(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 16);
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

RewriteResult rewrite_html_links(std::string_view html, const UrlMapper& map, const RewriteOptions& options) {
  RewriteResult result;
  std::string& out = result.html;
  out.reserve(html.size() + html.size() / 4);
  const size_t n = html.size();
  size_t copied = 0;  // html[copied, ...) is not in `out` yet
  size_t i = 0;
  while (i < n) {
    size_t lt = html.find('<', i);
    if (lt == std::string_view::npos) break;
    if (html.substr(lt, 4) == "<!--") {
      size_t close = html.find("-->", lt + 4);
      if (close == std::string_view::npos) break;  // an unclosed comment hides the rest, as in browsers
      i = close + 3;
      continue;
    }
    size_t p = lt + 1;
    while (p < n && is_alnum(html[p])) ++p;
    std::string_view name = html.substr(lt + 1, p - lt - 1);
    bool is_link_tag = iequals(name, "a") || iequals(name, "area");
    if (!is_link_tag || (p < n && !is_space(html[p]) && html[p] != '>' && html[p] != '/')) {
      i = lt + 1;
      continue;
    }
    TagScan scan = scan_attributes(html, p);
    if (!scan.complete) break;
    i = scan.end;
    if (!scan.has_href || scan.no_track) continue;
    std::string url(trim_spaces(decode_html_entities(html.substr(scan.href.begin, scan.href.end - scan.href.begin))));
    if (!should_track(url, options)) continue;
    std::string replacement = map(url);
    if (replacement.empty()) continue;
    out.append(html.substr(copied, scan.href.begin - copied));
    if (scan.href_quoted) {
      out += escape_html_attribute(replacement);
    } else {
      out += '"';
      out += escape_html_attribute(replacement);
      out += '"';
    }
    copied = scan.href.end;
    ++result.links;
  }
  out.append(html.substr(copied));
  return result;
}

// ---- Plain text ------------------------------------------------------------------------------

namespace {

bool ends_text_url(char c) {
  auto u = static_cast<unsigned char>(c);
  return u <= 0x20 || u >= 0x7F || c == '<' || c == '>' || c == '"';
}

// Drops what ends a sentence rather than a URL: "(see https://x.example/a)." -> ".../a".
size_t trim_trailing_punctuation(std::string_view s, size_t begin, size_t end) {
  long open_paren = 0, close_paren = 0, open_bracket = 0, close_bracket = 0;
  for (size_t k = begin; k < end; ++k) {
    switch (s[k]) {
      case '(': ++open_paren; break;
      case ')': ++close_paren; break;
      case '[': ++open_bracket; break;
      case ']': ++close_bracket; break;
      default: break;
    }
  }
  while (end > begin) {
    char c = s[end - 1];
    if (c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '\'') {
      --end;
    } else if (c == ')' && close_paren > open_paren) {
      --close_paren;
      --end;
    } else if (c == ']' && close_bracket > open_bracket) {
      --close_bracket;
      --end;
    } else {
      break;
    }
  }
  return end;
}

}  // namespace

RewriteResult rewrite_text_links(std::string_view text, const UrlMapper& map, const RewriteOptions& options) {
  RewriteResult result;
  std::string& out = result.text;
  out.reserve(text.size() + text.size() / 4);
  const size_t n = text.size();
  size_t copied = 0;
  size_t i = 0;
  while (i < n) {
    char c = text[i];
    size_t scheme = 0;
    if ((c == 'h' || c == 'H') && (i == 0 || !is_alnum(text[i - 1]))) scheme = http_scheme_length(text, i);
    if (scheme == 0) {
      ++i;
      continue;
    }
    size_t end = i + scheme;
    while (end < n && !ends_text_url(text[end])) ++end;
    end = trim_trailing_punctuation(text, i, end);
    if (end == i + scheme) {  // "https://" and nothing after it
      i = end;
      continue;
    }
    std::string_view url = text.substr(i, end - i);
    if (should_track(url, options)) {
      std::string replacement = map(url);
      if (!replacement.empty()) {
        out.append(text.substr(copied, i - copied));
        out += replacement;
        copied = end;
        ++result.links;
      }
    }
    i = end;
  }
  out.append(text.substr(copied));
  return result;
}

RewriteResult rewrite_links(std::string_view html, std::string_view text, const UrlMapper& map,
                            const RewriteOptions& options) {
  RewriteResult h = rewrite_html_links(html, map, options);
  RewriteResult t = rewrite_text_links(text, map, options);
  h.text = std::move(t.text);
  h.links += t.links;
  return h;
}

std::string add_open_pixel(std::string html, std::string_view pixel_url) {
  std::string img = "<img src=\"" + escape_html_attribute(pixel_url) +
                    "\" width=\"1\" height=\"1\" alt=\"\" style=\"display:none\">";
  constexpr std::string_view kClose = "</body";
  size_t at = std::string::npos;
  if (html.size() >= kClose.size()) {
    for (size_t k = html.size() - kClose.size() + 1; k-- > 0;) {
      if (html[k] == '<' && istarts_with(html, k, kClose)) {
        at = k;
        break;
      }
    }
  }
  if (at == std::string::npos) html += img;
  else html.insert(at, img);
  return html;
}

}  // namespace campaignd::render
