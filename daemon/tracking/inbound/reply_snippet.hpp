// The new text of a reply, without what it quotes: the part a person wrote, for the `replied`
// event and for whoever reads the campaign's replies.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace campaignd::tracking::inbound {

// Stops at the first quote marker: an attribution line ("On ... wrote:", also wrapped over two
// lines and in German, French, Spanish, Italian, Dutch, Portuguese), a line starting with ">",
// "-----Original Message-----" and its translations, an Outlook header block ("From:" followed
// by "Sent:"/"Date:"), a "____" rule before such a block, the signature separator "-- ", or
// "Sent from my ...". Whitespace is tidied; the result has at most `max_chars` characters
// (UTF-8 code points) and ends with "…" when cut. `text` must be UTF-8.
std::string reply_snippet(std::string_view text, std::size_t max_chars = 500);

}  // namespace campaignd::tracking::inbound
