// util/crypto: known vectors for SHA-256 and HMAC, base64/base64url, constant-time compare.
#include <doctest/doctest.h>

#include <string>

#include "daemon/util/crypto.hpp"

using namespace campaignd;

TEST_CASE("sha256: FIPS 180-2 vectors") {
  CHECK(util::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(util::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(util::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("hmac-sha256: RFC 4231 test cases 1 and 2") {
  std::string mac = util::hmac_sha256("Jefe", "what do ya want for nothing?");
  CHECK(mac.size() == 32);
  CHECK(util::to_hex(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  CHECK(util::to_hex(util::hmac_sha256(std::string(20, '\x0b'), "Hi There")) ==
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK(util::hmac_sha256("Jefe", "what do ya want for nothing!") != mac);
  CHECK(util::hmac_sha256("jefe", "what do ya want for nothing?") != mac);
}

TEST_CASE("hex: every byte value, lower case") {
  CHECK(util::to_hex(std::string("\x00\x01\x7f\x80\xff", 5)) == "00017f80ff");
  CHECK(util::to_hex("") == "");
}

TEST_CASE("base64: RFC 4648 vectors, padded and url-safe") {
  CHECK(util::base64_encode("") == "");
  CHECK(util::base64_encode("f") == "Zg==");
  CHECK(util::base64_encode("fo") == "Zm8=");
  CHECK(util::base64_encode("foo") == "Zm9v");
  CHECK(util::base64_encode("foob") == "Zm9vYg==");
  CHECK(util::base64_encode("fooba") == "Zm9vYmE=");
  CHECK(util::base64_encode("foobar") == "Zm9vYmFy");
  CHECK(util::base64url_encode("f") == "Zg");
  CHECK(util::base64url_encode("fo") == "Zm8");
  CHECK(util::base64url_encode("foobar") == "Zm9vYmFy");
  // The two alphabets differ in 62 and 63 only.
  std::string bytes("\xfb\xff\xbf", 3);
  CHECK(util::base64_encode(bytes) == "+/+/");
  CHECK(util::base64url_encode(bytes) == "-_-_");
}

TEST_CASE("base64url: round trip of every length and every byte value") {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); ++len) {
    std::string in = all.substr(256 - len) + all.substr(0, len % 7);
    std::string encoded = util::base64url_encode(in);
    CHECK(encoded.find_first_of("+/=") == std::string::npos);
    std::string out;
    REQUIRE(util::base64url_decode(encoded, out));
    CHECK(out == in);
  }
}

TEST_CASE("base64url: bad input is refused") {
  std::string out = "stale";
  CHECK(util::base64url_decode("", out));
  CHECK(out.empty());
  for (const char* bad : {"Zg==", "Zm8=", "Zm9v+", "Zm9v/", "Zm 9v", "Zm9v\n", "Z", "Zm9vY", "Zm9v!", "é"}) {
    CAPTURE(bad);
    CHECK_FALSE(util::base64url_decode(bad, out));
  }
}

TEST_CASE("base64url: non-canonical trailing bits are refused") {
  std::string out;
  CHECK(util::base64url_decode("Zg", out));
  CHECK_FALSE(util::base64url_decode("Zh", out));
  CHECK_FALSE(util::base64url_decode("Zm9", out));
}

TEST_CASE("constant_time_equals: equal, different, different lengths") {
  CHECK(util::constant_time_equals("", ""));
  CHECK(util::constant_time_equals("secret", "secret"));
  CHECK_FALSE(util::constant_time_equals("secret", "secreT"));
  CHECK_FALSE(util::constant_time_equals("secret", "secret "));
  CHECK_FALSE(util::constant_time_equals("", "x"));
  CHECK(util::constant_time_equals(std::string("a\0b", 3), std::string("a\0b", 3)));
  CHECK_FALSE(util::constant_time_equals(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST_CASE("random_bytes: the size asked for, and not the same twice") {
  CHECK(util::random_bytes(0).empty());
  auto a = util::random_bytes(32), b = util::random_bytes(32);
  CHECK(a.size() == 32);
  CHECK(a != b);
}
