// Hashes, MACs and encodings on OpenSSL, for tokens, hashed suppressions and signatures.
#pragma once

#include <string>
#include <string_view>

namespace campaignd::util {

std::string sha256_hex(std::string_view data);
std::string hmac_sha256(std::string_view key, std::string_view data);  // raw 32 bytes
bool constant_time_equals(std::string_view a, std::string_view b);
std::string to_hex(std::string_view bytes);
std::string base64_encode(std::string_view bytes);
std::string base64url_encode(std::string_view bytes);  // no padding
bool base64url_decode(std::string_view text, std::string& out);
std::string random_bytes(size_t n);

}  // namespace campaignd::util
