// Tokenizer for segment expressions. Columns are byte offsets, the same unit yaml-cpp uses,
// so a rule file can map an expression column back to a file column.
#include "daemon/segments/lexer.hpp"

#include <array>
#include <utility>

#include "daemon/util/strings.hpp"

namespace campaignd::segments {

namespace {

bool is_ident_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_ident_char(char c) { return is_ident_start(c) || is_digit(c) || c == '.' || c == '-'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

constexpr std::array<std::pair<std::string_view, TokenKind>, 7> kKeywords = {{
    {"and", TokenKind::kw_and},
    {"or", TokenKind::kw_or},
    {"not", TokenKind::kw_not},
    {"in", TokenKind::kw_in},
    {"contains", TokenKind::kw_contains},
    {"true", TokenKind::kw_true},
    {"false", TokenKind::kw_false},
}};

// One whole UTF-8 character starting at `i`, for naming a stray character in a message.
std::string_view character_at(std::string_view text, size_t i) {
  size_t n = 1;
  while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80 && n < 4) ++n;
  return text.substr(i, n);
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::expected<std::vector<Token>, SegmentError> run() {
    std::vector<Token> tokens;
    while (true) {
      while (pos_ < text_.size() && is_space(text_[pos_])) ++pos_;
      if (pos_ >= text_.size()) break;
      auto token = next();
      if (!token) return std::unexpected(token.error());
      tokens.push_back(std::move(*token));
    }
    tokens.push_back(Token{TokenKind::end, "", col(text_.size()), 0, 0});
    return tokens;
  }

 private:
  int col(size_t at) const { return static_cast<int>(at) + 1; }

  std::unexpected<SegmentError> error(size_t at, std::string message) const {
    return std::unexpected(SegmentError{col(at), std::move(message)});
  }

  Token make(TokenKind kind, size_t start, size_t length) {
    pos_ = start + length;
    return Token{kind, std::string(text_.substr(start, length)), col(start), 0, 0};
  }

  std::expected<Token, SegmentError> next() {
    size_t start = pos_;
    char c = text_[start];
    char following = start + 1 < text_.size() ? text_[start + 1] : '\0';
    switch (c) {
      case '(': return make(TokenKind::lparen, start, 1);
      case ')': return make(TokenKind::rparen, start, 1);
      case '[': return make(TokenKind::lbracket, start, 1);
      case ']': return make(TokenKind::rbracket, start, 1);
      case ',': return make(TokenKind::comma, start, 1);
      case '=': return make(TokenKind::compare, start, following == '=' ? 2 : 1);
      case '<':
      case '>': return make(TokenKind::compare, start, following == '=' ? 2 : 1);
      case '!':
        if (following == '=') return make(TokenKind::compare, start, 2);
        return error(start, "unexpected character '!' (write 'not' or '!=')");
      case '"':
      case '\'': return string_literal();
      default: break;
    }
    if (is_digit(c) || (c == '-' && is_digit(following))) return number();
    if (is_ident_start(c)) {
      while (pos_ < text_.size() && is_ident_char(text_[pos_])) ++pos_;
      Token token = make(TokenKind::identifier, start, pos_ - start);
      for (const auto& [word, kind] : kKeywords)
        if (util::iequals(token.text, word)) token.kind = kind;
      return token;
    }
    return error(start, "unexpected character '" + std::string(character_at(text_, start)) + "'");
  }

  std::expected<Token, SegmentError> number() {
    size_t start = pos_;
    size_t end = start + 1;
    // Take letters too, so "30d" is reported as one malformed number rather than two tokens.
    while (end < text_.size() && (is_ident_char(text_[end]) && text_[end] != '-')) ++end;
    std::string_view written = text_.substr(start, end - start);
    Token token = make(TokenKind::integer, start, end - start);
    bool digits_only = written.substr(1).find_first_not_of("0123456789") == std::string_view::npos;
    if (digits_only) {
      long long value = 0;
      if (!util::parse_int(written, value)) return error(start, "number " + token.text + " is out of range");
      token.integer = value;
      return token;
    }
    size_t dot = written.find('.');
    bool decimal = dot != std::string_view::npos && dot + 1 < written.size() &&
                   written.substr(dot + 1).find_first_not_of("0123456789") == std::string_view::npos &&
                   written.substr(1, dot - 1).find_first_not_of("0123456789") == std::string_view::npos &&
                   is_digit(written[dot - 1]);
    if (!decimal || !util::parse_double(written, token.real)) {
      std::string hint = written.back() >= 'a' && written.back() <= 'z' ? " (a duration goes in quotes, e.g. \"30d\")" : "";
      return error(start, "malformed number '" + token.text + "'" + hint);
    }
    token.kind = TokenKind::real;
    return token;
  }

  std::expected<Token, SegmentError> string_literal() {
    size_t start = pos_;
    char quote = text_[start];
    std::string value;
    size_t i = start + 1;
    while (i < text_.size() && text_[i] != quote) {
      if (text_[i] != '\\') {
        value += text_[i++];
        continue;
      }
      if (i + 1 >= text_.size()) break;
      switch (char e = text_[i + 1]) {
        case '\\':
        case '"':
        case '\'': value += e; break;
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        default:
          return error(i, "unknown escape '\\" + std::string(character_at(text_, i + 1)) + "' in string");
      }
      i += 2;
    }
    if (i >= text_.size()) return error(start, "unterminated string");
    pos_ = i + 1;
    return Token{TokenKind::string, std::move(value), col(start), 0, 0};
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::expected<std::vector<Token>, SegmentError> tokenize(std::string_view text) { return Lexer(text).run(); }

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::end: return "end of expression";
    case TokenKind::string: {
      std::string shown = token.text.size() > 24 ? token.text.substr(0, 21) + "..." : token.text;
      return "\"" + util::strip_controls(shown) + "\"";
    }
    default: return "'" + token.text + "'";
  }
}

}  // namespace campaignd::segments
