#include "daemon/tracking/inbound/reply_snippet.hpp"

#include <array>
#include <vector>

#include "daemon/util/strings.hpp"

namespace campaignd::tracking::inbound {

namespace {

// The verb of an attribution line; German and Scandinavian put the sender after it
// ("Am ... schrieb Acme <news@acme.example>:").
constexpr std::array kWroteVerbs = {
    "wrote", "writes", "schrieb", "a écrit", "escribió", "ha scritto", "schreef", "escreveu", "skrev",
    "napisał", "kirjoitti", "написал",
};
constexpr std::array kAttributionStarts = {"on ", "am ", "le ", "el ", "il ", "op ", "em ", "den ", "w dniu "};
constexpr std::array kOriginalMessage = {
    "original message", "ursprüngliche nachricht", "message d'origine", "mensaje original",
    "messaggio originale", "oorspronkelijk bericht", "mensagem original", "forwarded message",
    "opprinnelig melding", "ursprungligt meddelande",
};
constexpr std::array kDeviceSignatures = {
    "sent from my ", "get outlook for ", "envoyé de mon ", "von meinem ", "enviado desde mi ", "inviato da ",
    "verzonden vanaf mijn ", "enviado do meu ",
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }

template <typename List>
bool any_start(std::string_view s, const List& list) {
  for (const char* p : list)
    if (starts_with(s, p)) return true;
  return false;
}

bool has_wrote_verb(std::string_view lower) {
  for (const char* v : kWroteVerbs) {
    std::size_t at = lower.find(v);
    if (at != std::string_view::npos && (at == 0 || lower[at - 1] == ' ')) return true;
  }
  return false;
}

bool is_wrote_line(std::string_view lower) { return ends_with(lower, ":") && has_wrote_verb(lower); }

bool is_header_line(std::string_view lower, std::initializer_list<std::string_view> names) {
  for (auto n : names)
    if (starts_with(lower, n)) return true;
  return false;
}

// Where the quoted part begins, as a line index (lines.size() when nothing is quoted).
std::size_t quote_start(const std::vector<std::string>& lines) {
  std::vector<std::string> lower;
  lower.reserve(lines.size());
  for (const auto& l : lines) lower.push_back(util::to_lower(util::trim(l)));
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& l = lower[i];
    std::string_view raw = lines[i];
    if (!raw.empty() && raw.front() == '>') return i;
    if (raw == "-- " || raw == "--") return i;
    if (is_wrote_line(l) && (any_start(l, kAttributionStarts) || l.find('@') != std::string::npos || l.size() < 120))
      return i;
    // Wrapped over two lines: "On ... <news@acme.example>" / "wrote:".
    if (i + 1 < lines.size() && any_start(l, kAttributionStarts) && ends_with(lower[i + 1], ":") &&
        (has_wrote_verb(l) || has_wrote_verb(lower[i + 1])))
      return i;
    if (starts_with(l, "--") || starts_with(l, "__")) {
      for (const char* p : kOriginalMessage)
        if (l.find(p) != std::string::npos) return i;
    }
    // Outlook: a rule of underscores, or a From:/Sent: block, opens the quoted message.
    if (l.size() >= 10 && l.find_first_not_of('_') == std::string::npos) return i;
    if (is_header_line(l, {"from:", "von:", "de:", "da:", "van:", "od:", "från:", "fra:"})) {
      for (std::size_t j = i + 1; j < lines.size() && j <= i + 3; ++j)
        if (is_header_line(lower[j], {"sent:", "date:", "gesendet:", "envoyé :", "envoyé:", "enviado el:", "enviado:",
                                      "inviato:", "verzonden:", "to:", "an:", "à :", "para:", "subject:"}))
          return i;
    }
    if (any_start(l, kDeviceSignatures)) return i;
  }
  return lines.size();
}

// Cuts to at most `max_chars` code points, never inside a UTF-8 sequence.
std::string cut_utf8(const std::string& s, std::size_t max_chars) {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (count == max_chars) return s.substr(0, i);
    ++count;
  }
  return s;
}

std::size_t count_utf8(const std::string& s) {
  std::size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

}  // namespace

std::string reply_snippet(std::string_view text, std::size_t max_chars) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  // Only the head of a long body can make a snippet; quote markers sit near it anyway.
  if (text.size() > 256 * 1024) text = text.substr(0, 256 * 1024);
  while (start <= text.size()) {
    std::size_t nl = text.find('\n', start);
    std::string_view line = text.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.emplace_back(line);
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  std::size_t end = quote_start(lines);

  std::string out;
  bool blank_pending = false;
  for (std::size_t i = 0; i < end; ++i) {
    std::string line(util::trim(lines[i]));
    line = util::replace_all(std::move(line), "\t", " ");
    if (line.empty()) {
      blank_pending = !out.empty();
      continue;
    }
    if (!out.empty()) out += blank_pending ? "\n\n" : "\n";
    blank_pending = false;
    out += line;
  }
  if (max_chars == 0) return {};
  if (count_utf8(out) > max_chars) {
    out = cut_utf8(out, max_chars - 1);
    while (!out.empty() && (out.back() == ' ' || out.back() == '\n')) out.pop_back();
    out += "…";
  }
  return out;
}

}  // namespace campaignd::tracking::inbound
