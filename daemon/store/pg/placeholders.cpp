// A single pass over the SQL text that knows just enough of PostgreSQL's lexer (strings, quoted
// identifiers, dollar quotes, comments) to tell a parameter marker from a question mark in text.
#include "daemon/store/pg/placeholders.hpp"

#include <algorithm>

namespace campaignd::store::pg {

namespace {

constexpr int kMaxParameters = 65535;  // PostgreSQL's protocol limit (a 16-bit count)

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || static_cast<unsigned char>(c) >= 0x80;
}
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c) || c == '$'; }

std::unexpected<Error> error_at(size_t offset, const std::string& what) {
  return fail("SQL placeholders: offset " + std::to_string(offset) + ": " + what);
}

// The length of a dollar-quote tag (`$$` or `$name$`) starting at `i`, or 0 if there is none.
size_t dollar_tag_length(std::string_view s, size_t i) {
  size_t j = i + 1;
  if (j < s.size() && s[j] == '$') return 2;
  if (j >= s.size() || !is_ident_start(s[j])) return 0;
  while (j < s.size() && (is_ident_start(s[j]) || is_digit(s[j]))) ++j;
  return j < s.size() && s[j] == '$' ? j - i + 1 : 0;
}

// Reads the digits of a parameter number at `i`; returns -1 when there are none or too many.
long read_number(std::string_view s, size_t& i) {
  long n = 0;
  size_t start = i;
  while (i < s.size() && is_digit(s[i])) {
    if (n <= kMaxParameters) n = n * 10 + (s[i] - '0');
    ++i;
  }
  return i == start ? -1 : n;
}

}  // namespace

Result<TranslatedSql> translate_placeholders(std::string_view s) {
  TranslatedSql out;
  out.sql.reserve(s.size() + 16);
  size_t i = 0;
  auto prev_is_ident = [&](size_t at) { return at > 0 && is_ident_char(s[at - 1]); };
  while (i < s.size()) {
    char c = s[i];
    // '…' and E'…' strings ('' is a quote; in E strings a backslash escapes the next byte).
    if (c == '\'' || ((c == 'E' || c == 'e') && i + 1 < s.size() && s[i + 1] == '\'' && !prev_is_ident(i))) {
      size_t start = i;
      bool backslashes = c != '\'';
      i += backslashes ? 2 : 1;
      bool closed = false;
      while (i < s.size()) {
        if (backslashes && s[i] == '\\') {
          i += 2;
          continue;
        }
        if (s[i] == '\'') {
          if (i + 1 < s.size() && s[i + 1] == '\'') {
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        ++i;
      }
      if (!closed) return error_at(start, "unterminated string literal");
      out.sql.append(s.substr(start, i - start));
      continue;
    }
    if (c == '"') {
      size_t end = i + 1;
      while (true) {
        end = s.find('"', end);
        if (end == std::string_view::npos) return error_at(i, "unterminated quoted identifier");
        if (end + 1 < s.size() && s[end + 1] == '"') {
          end += 2;
          continue;
        }
        break;
      }
      out.sql.append(s.substr(i, end + 1 - i));
      i = end + 1;
      continue;
    }
    if (c == '-' && i + 1 < s.size() && s[i + 1] == '-') {
      size_t end = s.find('\n', i);
      end = end == std::string_view::npos ? s.size() : end;
      out.sql.append(s.substr(i, end - i));
      i = end;
      continue;
    }
    if (c == '/' && i + 1 < s.size() && s[i + 1] == '*') {
      // PostgreSQL nests block comments.
      size_t start = i;
      int depth = 0;
      do {
        if (i + 1 < s.size() && s[i] == '/' && s[i + 1] == '*') {
          ++depth;
          i += 2;
        } else if (i + 1 < s.size() && s[i] == '*' && s[i + 1] == '/') {
          --depth;
          i += 2;
        } else {
          ++i;
        }
      } while (depth > 0 && i < s.size());
      if (depth > 0) return error_at(start, "unterminated block comment");
      out.sql.append(s.substr(start, i - start));
      continue;
    }
    if (c == '$' && !prev_is_ident(i)) {
      if (i + 1 < s.size() && is_digit(s[i + 1])) {
        size_t start = i++;
        long n = read_number(s, i);
        if (n < 1 || n > kMaxParameters) return error_at(start, "parameter number out of range 1..65535");
        out.parameters = std::max(out.parameters, static_cast<int>(n));
        out.sql.append(s.substr(start, i - start));
        continue;
      }
      if (size_t tag = dollar_tag_length(s, i); tag > 0) {
        size_t end = s.find(s.substr(i, tag), i + tag);
        if (end == std::string_view::npos) return error_at(i, "unterminated dollar-quoted string");
        out.sql.append(s.substr(i, end + tag - i));
        i = end + tag;
        continue;
      }
      if (i + 1 < s.size() && is_ident_start(s[i + 1]))
        return error_at(i, "named parameter '$…' is not supported; use ?N");
    }
    if (c == '?') {
      size_t start = i++;
      int n;
      if (i < s.size() && is_digit(s[i])) {
        long v = read_number(s, i);
        if (v < 1 || v > kMaxParameters) return error_at(start, "parameter number out of range 1..65535");
        n = static_cast<int>(v);
      } else {
        if (out.parameters >= kMaxParameters) return error_at(start, "more than 65535 parameters");
        n = out.parameters + 1;
      }
      out.parameters = std::max(out.parameters, n);
      out.sql += '$';
      out.sql += std::to_string(n);
      continue;
    }
    // SQLite's other markers; `::` (a cast) and `[1:2]` (a slice) are not names.
    if (c == ':' && i + 1 < s.size() && is_ident_start(s[i + 1]) && (i == 0 || s[i - 1] != ':'))
      return error_at(i, "named parameter ':…' is not supported; use ?N");
    if (c == '@' && i + 1 < s.size() && is_ident_start(s[i + 1]))
      return error_at(i, "named parameter '@…' is not supported; use ?N");
    // An identifier or keyword is copied whole, so a `$` inside `a$b` or an `e` ending `some`
    // before a quote is not taken for the start of a marker or an E'…' string.
    if (is_ident_start(c)) {
      size_t start = i;
      while (i < s.size() && is_ident_char(s[i])) ++i;
      out.sql.append(s.substr(start, i - start));
      continue;
    }
    out.sql += c;
    ++i;
  }
  return out;
}

}  // namespace campaignd::store::pg
