// tracking/token: signed link tokens — what verifies, and every way a forged one does not.
#include <doctest/doctest.h>

#include <string>

#include "daemon/tracking/token.hpp"
#include "daemon/util/crypto.hpp"

using namespace campaignd;
using tracking::TokenPurpose;
using tracking::TokenSigner;

TEST_CASE("token: sign and verify round-trip for every purpose and payload") {
  TokenSigner signer("k3y-for-tests");
  for (auto purpose : {TokenPurpose::unsubscribe, TokenPurpose::open, TokenPurpose::click, TokenPurpose::confirm}) {
    for (std::string payload : {std::string("42"), std::string(""), std::string("12:https://acme.example/p?a=1&b=2"),
                                std::string("\x00\xff.binary", 9), std::string(1000, 'x')}) {
      std::string token = signer.sign(purpose, payload);
      CHECK(token.find_first_of("+/= \r\n") == std::string::npos);  // URL-safe as it is
      auto back = signer.verify(purpose, token);
      REQUIRE(back);
      CHECK(*back == payload);
    }
  }
  // Deterministic: the same input gives the same token.
  CHECK(signer.sign(TokenPurpose::open, "7") == signer.sign(TokenPurpose::open, "7"));
  // The format is base64url(payload) "." base64url(first 16 bytes of the HMAC).
  std::string token = signer.sign(TokenPurpose::unsubscribe, "42");
  CHECK(token == util::base64url_encode("42") + "." +
                     util::base64url_encode(util::hmac_sha256("k3y-for-tests", "u:42").substr(0, 16)));
}

TEST_CASE("token: a token made for one purpose does not verify for another") {
  TokenSigner signer("k");
  std::string unsubscribe = signer.sign(TokenPurpose::unsubscribe, "42");
  CHECK_FALSE(signer.verify(TokenPurpose::open, unsubscribe));
  CHECK_FALSE(signer.verify(TokenPurpose::click, unsubscribe));
  CHECK_FALSE(signer.verify(TokenPurpose::confirm, unsubscribe));
  CHECK(signer.verify(TokenPurpose::unsubscribe, unsubscribe));
}

TEST_CASE("token: another key does not verify") {
  std::string token = TokenSigner("key-one").sign(TokenPurpose::click, "5:https://x.example");
  CHECK_FALSE(TokenSigner("key-two").verify(TokenPurpose::click, token));
  CHECK_FALSE(TokenSigner("").verify(TokenPurpose::click, token));
  CHECK(TokenSigner("key-one").verify(TokenPurpose::click, token));
}

TEST_CASE("token: a tampered payload or MAC does not verify") {
  TokenSigner signer("k");
  std::string token = signer.sign(TokenPurpose::unsubscribe, "1234");
  auto dot = token.find('.');
  REQUIRE(dot != std::string::npos);

  // Another payload with the old MAC.
  std::string other_payload = util::base64url_encode("1235") + token.substr(dot);
  CHECK_FALSE(signer.verify(TokenPurpose::unsubscribe, other_payload));

  // Every single-character change anywhere.
  for (size_t i = 0; i < token.size(); ++i) {
    if (i == dot) continue;
    std::string t = token;
    t[i] = t[i] == 'A' ? 'B' : 'A';
    CAPTURE(t);
    CHECK_FALSE(signer.verify(TokenPurpose::unsubscribe, t));
  }
  // A truncated or extended MAC.
  CHECK_FALSE(signer.verify(TokenPurpose::unsubscribe, token.substr(0, token.size() - 1)));
  CHECK_FALSE(signer.verify(TokenPurpose::unsubscribe, token + "A"));
  CHECK_FALSE(signer.verify(TokenPurpose::unsubscribe, token + "AAAA"));
  // The MAC of the right payload computed with the full 32 bytes is not the token's MAC.
  CHECK_FALSE(signer.verify(TokenPurpose::unsubscribe,
                            token.substr(0, dot + 1) + util::base64url_encode(util::hmac_sha256("k", "u:1234"))));
}

TEST_CASE("token: garbage, empty and overlong input") {
  TokenSigner signer("k");
  for (const char* bad : {"", ".", "..", "abc", "abc.", ".abc", "MTIz.!!!!", "MTIz.AAAA.AAAA", "M TIz.AAAA",
                          "MTIz+.AAAA", "%2E", "MTIz.AAAAAAAAAAAAAAAAAAAAAA"}) {
    CAPTURE(bad);
    CHECK_FALSE(signer.verify(TokenPurpose::open, bad));
  }
  // Tokens longer than 4096 characters are refused before any decoding, even a valid one.
  std::string long_payload(4000, 'p');
  std::string long_token = signer.sign(TokenPurpose::open, long_payload);
  REQUIRE(long_token.size() > 4096);
  CHECK_FALSE(signer.verify(TokenPurpose::open, long_token));
  std::string fits = signer.sign(TokenPurpose::open, std::string(3000, 'p'));
  REQUIRE(fits.size() <= 4096);
  CHECK(signer.verify(TokenPurpose::open, fits));
}

TEST_CASE("token: only the canonical spelling verifies") {
  // base64url leaves unused low bits in a final character: "MTIzNA" and "MTIzNB" decode alike.
  // SPEC.md: an altered token gets 404, so each of those spellings must be refused.
  TokenSigner signer("k");
  std::string token = signer.sign(TokenPurpose::unsubscribe, "1234");
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  int accepted = 0;
  for (char c : std::string(kAlphabet)) {
    std::string t = token;
    t.back() = c;
    if (signer.verify(TokenPurpose::unsubscribe, t)) ++accepted;
  }
  CHECK(accepted == 1);
  std::string payload_changed = token;
  payload_changed[token.find('.') - 1] = 'B';  // "MTIzNA" -> "MTIzNB"
  CHECK_FALSE(signer.verify(TokenPurpose::unsubscribe, payload_changed));
}
