// Rewrites the links of a rendered message through a caller's mapping (click tracking) and adds
// the open pixel. Works on whatever bytes the template produced: malformed HTML never makes it
// fail or drop content, and the work is linear in the input (no backtracking over it).
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace campaignd::render {

struct RewriteResult {
  std::string html;
  std::string text;
  int links = 0;  // how many links were replaced
};

// Gives the URL to put in place of `original_url` (already entity-decoded, trimmed). An empty
// answer leaves that link as it was (e.g. a URL too long to carry in a token).
using UrlMapper = std::function<std::string(std::string_view original_url)>;

// Which links stay as they are, besides non-http(s) ones (mailto:, tel:, #anchor, relative).
struct RewriteOptions {
  std::string_view keep_url;  // e.g. the unsubscribe URL: compared after entity decoding
};

// Every http(s) href of <a> and <area> elements, whatever the attribute's quoting and case.
// An element carrying a `data-no-track` attribute keeps its href. The replacement is
// HTML-escaped and always double-quoted. The result's `text` is empty.
RewriteResult rewrite_html_links(std::string_view html, const UrlMapper& map, const RewriteOptions& options = {});

// Every http(s) URL in plain text. A URL ends at whitespace, `<`, `>`, `"` or a non-ASCII
// byte; trailing sentence punctuation (.,;:!?') and an unbalanced closing `)` or `]` are not
// part of it ("see https://x.example/a." keeps its dot outside). The result's `html` is empty.
RewriteResult rewrite_text_links(std::string_view text, const UrlMapper& map, const RewriteOptions& options = {});

// Both parts; `links` is the total.
RewriteResult rewrite_links(std::string_view html, std::string_view text, const UrlMapper& map,
                            const RewriteOptions& options = {});

// Inserts `<img src="PIXEL" width="1" height="1" alt="" style="display:none">` just before the
// last `</body>` (any case), or at the end when there is none.
std::string add_open_pixel(std::string html, std::string_view pixel_url);

// Decodes the character references that matter inside attribute values: &amp; &lt; &gt; &quot;
// &apos; and numeric ones (&#39; &#x2F;). Anything else is kept literally.
std::string decode_html_entities(std::string_view s);
// Escapes & < > " ' for an attribute value.
std::string escape_html_attribute(std::string_view s);

}  // namespace campaignd::render
