// Small string helpers that know nothing of campaignd.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace campaignd::util {

std::string_view trim(std::string_view s);
std::string to_lower(std::string_view s);
std::vector<std::string> split(std::string_view s, char sep);
bool iequals(std::string_view a, std::string_view b);
std::string replace_all(std::string s, std::string_view from, std::string_view to);
// Replaces CR, LF and other control characters with a space: for anything bound for a header.
std::string strip_controls(std::string_view s);
// Parses the whole of s as a number; false when any of it is not.
// 0-15 for a hex digit of either case, -1 otherwise.
int hex_value(char c);
// "%XX" sequences decoded (RFC 3986, RFC 2231); a '%' not followed by two hex digits stays as is.
std::string percent_decode(std::string_view s);

bool parse_int(std::string_view s, long long& out);
bool parse_double(std::string_view s, double& out);

}  // namespace campaignd::util
