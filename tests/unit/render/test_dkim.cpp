// DKIM signing: keys made by the openssl CLI at test time, messages built by build_mime, and
// every signature checked by an independent verifier (python3-dkim, tests/unit/render/dkim_verify.py).
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "daemon/render/dkim_canonical.hpp"
#include "daemon/render/dkim_keyring.hpp"
#include "daemon/render/dkim_signer.hpp"
#include "daemon/render/mime.hpp"
#include "daemon/util/crypto.hpp"
#include "tests/unit/render/render_test_support.hpp"

using namespace campaignd::render;
using campaignd::config::DkimKey;
using campaignd::render::testing::source_dir;
using campaignd::render::testing::TempDir;
using campaignd::util::Mailbox;

namespace {

// doctest evaluates a message even when the check passes (with -s): never call error() on a value.
template <typename T>
std::string error_of(const campaignd::Result<T>& r) {
  return r ? std::string() : r.error();
}

// ---- Running the openssl CLI and the Python verifier ------------------------------------------

struct Run {
  int status = -1;
  std::string output;
};

Run run(const std::string& command) {
  Run r;
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen((command + " 2>&1").c_str(), "r"), pclose);
  if (!pipe) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe.get())) > 0) r.output.append(buf, n);
  int raw = pclose(pipe.release());
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return r;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Keys are generated once per test run: RSA key generation takes a while.
struct Keys {
  TempDir dir;
  std::string rsa2048, rsa1024, rsa512, ed25519, ec, encrypted;
  std::string rsa2048_txt, rsa1024_txt, ed25519_txt;

  Keys() {
    rsa2048 = genpkey("rsa2048.pem", "-algorithm RSA -pkeyopt rsa_keygen_bits:2048");
    rsa1024 = genpkey("rsa1024.pem", "-algorithm RSA -pkeyopt rsa_keygen_bits:1024");
    rsa512 = genpkey("rsa512.pem", "-algorithm RSA -pkeyopt rsa_keygen_bits:512");
    ed25519 = genpkey("ed25519.pem", "-algorithm ED25519");
    ec = genpkey("ec.pem", "-algorithm EC -pkeyopt ec_paramgen_curve:P-256");
    encrypted = genpkey("encrypted.pem", "-algorithm ED25519 -aes-256-cbc -pass pass:secret");
    rsa2048_txt = "v=DKIM1; k=rsa; p=" + campaignd::util::base64_encode(public_der(rsa2048));
    rsa1024_txt = "v=DKIM1; k=rsa; p=" + campaignd::util::base64_encode(public_der(rsa1024));
    const std::string der = public_der(ed25519);
    REQUIRE(der.size() >= 32);
    ed25519_txt = "v=DKIM1; k=ed25519; p=" + campaignd::util::base64_encode(der.substr(der.size() - 32));
  }

  std::string genpkey(const std::string& name, const std::string& options) {
    const std::string path = dir.path() + "/" + name;
    Run r = run("openssl genpkey " + options + " -out '" + path + "'");
    REQUIRE_MESSAGE(r.status == 0, "openssl genpkey failed: ", r.output);
    return path;
  }

  std::string public_der(const std::string& key) {
    const std::string out = key + ".pub.der";
    Run r = run("openssl pkey -in '" + key + "' -pubout -outform DER -out '" + out + "'");
    REQUIRE_MESSAGE(r.status == 0, "openssl pkey failed: ", r.output);
    return read_all(out);
  }
};

const Keys& keys() {
  static Keys k;
  return k;
}

struct Verdict {
  int status = -1;
  std::vector<std::string> lines;  // "OK a=... d=... s=..." / "FAIL ...: reason" / "NONE"
  std::string output;
  bool all_ok() const { return status == 0 && !lines.empty(); }
};

// records: "selector._domainkey.domain" -> TXT record.
Verdict verify(const std::string& message, const std::map<std::string, std::string>& records) {
  TempDir dir;
  const std::string file = dir.write("message.eml", message);
  std::string command = "/usr/bin/python3 '" + (source_dir() / "tests/unit/render/dkim_verify.py").string() + "' '" + file + "'";
  for (const auto& [name, txt] : records) command += " '" + name + "=" + txt + "'";
  Run r = run(command);
  Verdict v;
  v.status = r.status;
  v.output = r.output;
  std::istringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("OK") || line.starts_with("FAIL") || line.starts_with("NONE")) v.lines.push_back(line);
  return v;
}

std::map<std::string, std::string> acme_records() {
  return {{"s2026._domainkey.acme.example", keys().rsa2048_txt}, {"ed2026._domainkey.acme.example", keys().ed25519_txt}};
}

// ---- Messages ---------------------------------------------------------------------------------

OutgoingMessage sample() {
  OutgoingMessage m;
  m.from = Mailbox{"Acme Störe", "news@acme.example"};
  m.reply_to = Mailbox{"", "support@acme.example"};
  m.to = Mailbox{"Ana Silva", "ana@example.org"};
  m.subject = "Ana, 20 % de réduction cette semaine ☀ — profitez-en avant dimanche soir, c'est maintenant";
  m.text = "Hello   Ana,   \n\nSpring sale:\t20% off.  \nUnsubscribe: https://acme.example/u/TOKEN\n\n\n\n";
  m.html = "<html><body><p>Hello Ana,</p><p>Spring sale: <b>20% off</b>.</p>"
           "<p><a href=\"https://acme.example/u/TOKEN\">Unsubscribe</a></p></body></html>\n\n";
  m.message_id = "abc.123@acme.example";
  m.date = 1772355600;
  m.extra_headers = {
      {"List-Unsubscribe",
       "<https://acme.example/u/eyJjIjoic3ByaW5nLXNhbGUiLCJlIjoiYW5hQGV4YW1wbGUub3JnIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ>, "
       "<mailto:unsubscribe@acme.example?subject=eyJjIjoic3ByaW5nLXNhbGUiLCJlIjoiYW5hQGV4YW1wbGUub3JnIn0>"},
      {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
      {"List-Id", "Acme news <news.acme.example>"},
      {"Auto-Submitted", "auto-generated"},
      {"X-Campaign", "spring-sale"}};
  return m;
}

// A hand-written message: folded headers, trailing whitespace and blank lines in the body.
std::string raw_message() {
  return "From: Acme <news@acme.example>\r\n"
         "To: ana@example.org\r\n"
         "Subject: A  subject\twith   odd   spacing \r\n"
         "\tand a fold\r\n"
         "Date: Sun, 01 Mar 2026 09:00:00 +0000\r\n"
         "Message-ID: <raw.1@acme.example>\r\n"
         "X-Not-Signed: anything\r\n"
         "\r\n"
         "Line one with trailing spaces   \r\n"
         "  indented\t\tline \t \r\n"
         "\r\n"
         "last line\r\n"
         "\r\n"
         "   \r\n"
         "\r\n";
}

campaignd::util::UnixTime now() { return static_cast<campaignd::util::UnixTime>(std::time(nullptr)); }

std::string header_block(const std::string& message) { return message.substr(0, message.find("\r\n\r\n") + 2); }

// The value of tag `name` in an unfolded DKIM-Signature field, whitespace removed.
std::string tag(const std::string& field, const std::string& name) {
  std::string flat;
  for (char c : field)
    if (c != '\r' && c != '\n' && c != ' ' && c != '\t') flat += c;
  std::smatch m;
  if (std::regex_search(flat, m, std::regex("[:;]" + name + "=([^;]*)"))) return m[1];
  return "<absent>";
}

DkimSigner load_signer(const std::string& selector, const std::string& file) {
  auto signer = DkimSigner::load("acme.example", selector, file);
  REQUIRE_MESSAGE(signer.has_value(), error_of(signer));
  return *signer;
}

DkimKeyring acme_keyring() {
  auto ring = DkimKeyring::load({{"acme.example", "ed2026", keys().ed25519}, {"acme.example", "s2026", keys().rsa2048}}, "");
  REQUIRE_MESSAGE(ring.has_value(), error_of(ring));
  return *ring;
}

std::string replace_once(std::string s, const std::string& from, const std::string& to) {
  auto pos = s.find(from);
  REQUIRE_MESSAGE(pos != std::string::npos, "not found: ", from);
  return s.replace(pos, from.size(), to);
}

}  // namespace

// ---- Canonicalisation -------------------------------------------------------------------------

TEST_CASE("dkim relaxed canonicalisation follows RFC 6376 section 3.4.5's example") {
  const std::string message = "A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
  auto split = dkim_split_message(message);
  REQUIRE(split.has_value());
  REQUIRE(split->headers.size() == 2);
  CHECK(dkim_relaxed_header(split->headers[0].name, split->headers[0].value) == "a:X");
  CHECK(dkim_relaxed_header(split->headers[1].name, split->headers[1].value) == "b:Y Z");
  CHECK(split->headers[1].line == 2);
  CHECK(dkim_relaxed_body(split->body) == " C\r\nD E\r\n");
}

TEST_CASE("dkim relaxed body: empty bodies, missing final CRLF, whitespace-only lines") {
  CHECK(dkim_relaxed_body("") == "");
  CHECK(dkim_relaxed_body("\r\n") == "");
  CHECK(dkim_relaxed_body("\r\n\r\n  \r\n\t\r\n") == "");
  CHECK(dkim_relaxed_body("abc") == "abc\r\n");
  CHECK(dkim_relaxed_body("abc  \t") == "abc\r\n");
  CHECK(dkim_relaxed_body("a  b\r\n\r\nc\r\n \r\n") == "a b\r\n\r\nc\r\n");
  CHECK(dkim_relaxed_body("\r\n\r\nx\r\n") == "\r\n\r\nx\r\n");
}

TEST_CASE("dkim splitting: folds, no body, and malformed header sections") {
  auto folded = dkim_split_message("Subject: one\r\n two\r\n\tthree\r\nFrom: a@b.example\r\n\r\nbody\r\n");
  REQUIRE(folded.has_value());
  REQUIRE(folded->headers.size() == 2);
  CHECK(folded->headers[0].value == " one\r\n two\r\n\tthree");
  CHECK(folded->headers[1].name == "From");
  CHECK(folded->headers[1].line == 4);
  CHECK(folded->body == "body\r\n");

  auto no_body = dkim_split_message("From: a@b.example\r\nTo: c@d.example\r\n");
  REQUIRE(no_body.has_value());
  CHECK(no_body->headers.size() == 2);
  CHECK(no_body->body.empty());

  auto body_colons = dkim_split_message("From: a@b.example\r\n\r\nnot: a header\r\n");
  REQUIRE(body_colons.has_value());
  CHECK(body_colons->headers.size() == 1);

  auto bare_lf = dkim_split_message("From: a@b.example\r\nTo: c@d.example\n\r\nbody");
  REQUIRE_FALSE(bare_lf.has_value());
  CHECK(bare_lf.error().find("line 2") != std::string::npos);
  CHECK(bare_lf.error().find("bare LF") != std::string::npos);

  auto bare_cr = dkim_split_message("From: a@b.example\r\n\r\nbody\rmore\r\n");
  REQUIRE_FALSE(bare_cr.has_value());
  CHECK(bare_cr.error().find("line 3: bare CR") != std::string::npos);

  auto no_colon = dkim_split_message("From: a@b.example\r\nNot a header\r\n\r\n");
  REQUIRE_FALSE(no_colon.has_value());
  CHECK(no_colon.error().find("line 2") != std::string::npos);

  auto colon_on_fold = dkim_split_message("From: a@b.example\r\nNoColon\r\n here: x\r\n\r\n");
  REQUIRE_FALSE(colon_on_fold.has_value());
  CHECK(colon_on_fold.error().find("line 2") != std::string::npos);

  auto leading_fold = dkim_split_message(" folded: first\r\nFrom: a@b.example\r\n\r\n");
  REQUIRE_FALSE(leading_fold.has_value());
  CHECK(leading_fold.error().find("line 1") != std::string::npos);

  auto bad_name = dkim_split_message("From: a@b.example\r\nX Bad: y\r\n\r\n");
  REQUIRE_FALSE(bad_name.has_value());
  CHECK(bad_name.error().find("line 2") != std::string::npos);

  auto empty_name = dkim_split_message(": y\r\n\r\n");
  REQUIRE_FALSE(empty_name.has_value());
}

// ---- Signing, checked by python3-dkim ---------------------------------------------------------

TEST_CASE("dkim rsa-sha256 signature on a build_mime message verifies independently") {
  const DkimSigner signer = load_signer("s2026", keys().rsa2048);
  CHECK(signer.algorithm() == "rsa-sha256");
  CHECK(signer.domain() == "acme.example");
  CHECK(signer.key_bits() == 2048);

  const std::string message = build_mime(sample());
  const auto t = now();
  auto field = signer.signature_header(message, t);
  REQUIRE_MESSAGE(field.has_value(), error_of(field));

  Verdict v = verify(*field + message, {{"s2026._domainkey.acme.example", keys().rsa2048_txt}});
  CHECK_MESSAGE(v.all_ok(), v.output);
  REQUIRE(v.lines.size() == 1);
  CHECK(v.lines[0] == "OK a=rsa-sha256 d=acme.example s=s2026");

  // The wrong public key must fail, or the verifier proves nothing.
  Verdict wrong = verify(*field + message, {{"s2026._domainkey.acme.example", keys().rsa1024_txt}});
  CHECK_FALSE(wrong.all_ok());
  REQUIRE(wrong.lines.size() == 1);
  CHECK(wrong.lines[0].starts_with("FAIL"));
}

TEST_CASE("dkim signature field: tags, h= list, over-signing, folding") {
  const DkimSigner signer = load_signer("s2026", keys().rsa2048);
  const std::string message = build_mime(sample());
  auto field = signer.signature_header(message, 1790000000);
  REQUIRE(field.has_value());

  CHECK(field->starts_with("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=acme.example;"));
  CHECK(field->ends_with("\r\n"));
  CHECK(field->find("\r\n\r\n") == std::string::npos);
  std::istringstream lines(*field);
  for (std::string line; std::getline(lines, line);) {
    CHECK_MESSAGE(line.ends_with("\r"), "line without CRLF: ", line);
    CHECK_MESSAGE(line.size() <= 79, "line over 78: ", line);  // 78 plus the CR
  }
  CHECK(tag(*field, "v") == "1");
  CHECK(tag(*field, "c") == "relaxed/relaxed");
  CHECK(tag(*field, "s") == "s2026");
  CHECK(tag(*field, "t") == "1790000000");
  CHECK(tag(*field, "l") == "<absent>");
  CHECK(tag(*field, "x") == "<absent>");
  CHECK(tag(*field, "bh").size() == 44);
  CHECK(tag(*field, "b").size() == 344);  // 256 bytes of RSA-2048 signature in base64
  CHECK(tag(*field, "h") ==
        "from:from:to:subject:subject:date:message-id:reply-to:mime-version:content-type:"
        "list-id:list-unsubscribe:list-unsubscribe-post:auto-submitted");

  // bh is the SHA-256 of the relaxed body: recompute it through the canonicaliser.
  auto split = dkim_split_message(message);
  REQUIRE(split.has_value());
  const std::string body_hash_hex = campaignd::util::sha256_hex(dkim_relaxed_body(split->body));
  std::string body_hash_raw;
  for (size_t i = 0; i < body_hash_hex.size(); i += 2)
    body_hash_raw += static_cast<char>(std::stoi(body_hash_hex.substr(i, 2), nullptr, 16));
  CHECK(tag(*field, "bh") == campaignd::util::base64_encode(body_hash_raw));
}

TEST_CASE("dkim ed25519-sha256 next to rsa-sha256: both verify, RSA first") {
  const DkimKeyring ring = acme_keyring();
  REQUIRE_FALSE(ring.empty());
  REQUIRE(ring.signers().size() == 2);
  CHECK(ring.signers()[0].algorithm() == "rsa-sha256");
  CHECK(ring.signers()[1].algorithm() == "ed25519-sha256");

  const std::string message = build_mime(sample());
  auto signed_message = ring.sign(message, "acme.example", now());
  REQUIRE_MESSAGE(signed_message.has_value(), error_of(signed_message));
  CHECK(signed_message->ends_with(message));
  CHECK(signed_message->starts_with("DKIM-Signature: v=1; a=rsa-sha256;"));
  CHECK(signed_message->find("DKIM-Signature: v=1; a=ed25519-sha256;") != std::string::npos);

  Verdict v = verify(*signed_message, acme_records());
  CHECK_MESSAGE(v.all_ok(), v.output);
  REQUIRE(v.lines.size() == 2);
  CHECK(v.lines[0] == "OK a=rsa-sha256 d=acme.example s=s2026");
  CHECK(v.lines[1] == "OK a=ed25519-sha256 d=acme.example s=ed2026");

  // Ed25519 is deterministic: the same message and time give the same field.
  const DkimSigner ed = load_signer("ed2026", keys().ed25519);
  CHECK(ed.signature_header(message, 1790000000).value() == ed.signature_header(message, 1790000000).value());
  CHECK(tag(ed.signature_header(message, 1790000000).value(), "b").size() == 88);  // 64 bytes
}

TEST_CASE("dkim signatures break when signed content is tampered with") {
  const DkimKeyring ring = acme_keyring();
  const std::string message = build_mime(sample());
  const std::string signed_message = ring.sign(message, "acme.example", now()).value();
  REQUIRE(verify(signed_message, acme_records()).all_ok());

  auto expect_both_fail = [](const Verdict& v, const char* what) {
    INFO(what, "\n", v.output);
    CHECK_FALSE(v.all_ok());
    REQUIRE(v.lines.size() == 2);
    CHECK(v.lines[0].starts_with("FAIL a=rsa-sha256"));
    CHECK(v.lines[1].starts_with("FAIL a=ed25519-sha256"));
  };

  SUBCASE("subject changed") {
    const std::string headers = header_block(signed_message);
    const auto subject_at = headers.find("\r\nSubject: ");
    REQUIRE(subject_at != std::string::npos);
    std::string tampered = signed_message;
    tampered.insert(subject_at + 11, "=?UTF-8?Q?FREE_?= ");
    expect_both_fail(verify(tampered, acme_records()), "subject");
  }
  SUBCASE("body changed") {
    expect_both_fail(verify(replace_once(signed_message, "Spring sale", "Spring SALE"), acme_records()), "body");
  }
  SUBCASE("a second From added below the first") {
    const auto to_at = signed_message.find("\r\nTo: ");
    std::string tampered = signed_message;
    tampered.insert(to_at + 2, "From: Evil <evil@attacker.example>\r\n");
    expect_both_fail(verify(tampered, acme_records()), "second From");
  }
  SUBCASE("a second Subject added: only over-signing catches it") {
    const auto to_at = signed_message.find("\r\nTo: ");
    std::string tampered = signed_message;
    tampered.insert(to_at + 2, "Subject: Act now\r\n");
    expect_both_fail(verify(tampered, acme_records()), "second Subject");
  }
  SUBCASE("List-Unsubscribe-Post removed") {
    expect_both_fail(verify(replace_once(signed_message, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", ""),
                            acme_records()),
                     "List-Unsubscribe-Post");
  }
  SUBCASE("a new unsigned header is harmless, as it should be") {
    std::string tampered = "Received: from relay.example by mx.example; Sun, 1 Mar 2026 09:00:01 +0000\r\n" +
                           replace_once(signed_message, "\r\nX-Campaign: ", "\r\nX-Campaign: changed ");
    Verdict v = verify(tampered, acme_records());
    CHECK_MESSAGE(v.all_ok(), v.output);
  }
}

TEST_CASE("dkim c=relaxed survives re-folding and whitespace changes on the way") {
  const DkimKeyring ring = acme_keyring();
  const std::string message = build_mime(sample());
  std::string mangled = ring.sign(message, "acme.example", now()).value();
  // A relay re-folds List-Unsubscribe at its comma, unfolds the Subject and pads it.
  mangled = replace_once(mangled, ">,\r\n <mailto:", ">,\r\n\t  <mailto:");
  const auto subject_at = mangled.find("\r\nSubject: ");
  const auto fold_at = mangled.find("\r\n ", subject_at + 2);
  REQUIRE(fold_at < mangled.find("\r\nMessage-ID: "));
  mangled.replace(fold_at, 3, "  \t ");
  mangled = replace_once(mangled, "\r\nSubject: ", "\r\nSubject:    \t");
  mangled = replace_once(mangled, "\r\nList-Id: Acme news", "\r\nlist-id:  Acme \t news");
  // ... and adds trailing whitespace and blank lines to the body.
  mangled = replace_once(mangled, "Spring sale:", "Spring   sale:");
  mangled += "\r\n   \r\n";
  Verdict v = verify(mangled, acme_records());
  CHECK_MESSAGE(v.all_ok(), v.output);
  CHECK(v.lines.size() == 2);
}

TEST_CASE("dkim hand-written message with folds and trailing blank lines verifies") {
  const DkimKeyring ring = acme_keyring();
  auto signed_message = ring.sign(raw_message(), "acme.example", now());
  REQUIRE_MESSAGE(signed_message.has_value(), error_of(signed_message));
  Verdict v = verify(*signed_message, acme_records());
  CHECK_MESSAGE(v.all_ok(), v.output);
  CHECK(v.lines.size() == 2);
  // Reply-To is absent and not over-signed; Subject is, From twice.
  CHECK(tag(signed_message.value(), "h") == "from:from:to:subject:subject:date:message-id");

  // Canonicalisation drops the trailing blank lines: dropping them here changes nothing.
  std::string trimmed = replace_once(*signed_message, "last line\r\n\r\n   \r\n\r\n", "last line\r\n");
  CHECK(verify(trimmed, acme_records()).all_ok());
  // But a new non-empty line at the end does.
  CHECK_FALSE(verify(*signed_message + "P.S.\r\n", acme_records()).all_ok());
}

TEST_CASE("dkim signing refuses messages it cannot sign faithfully") {
  const DkimSigner signer = load_signer("s2026", keys().rsa2048);
  auto no_from = signer.signature_header("To: ana@example.org\r\nSubject: hi\r\n\r\nbody\r\n", now());
  REQUIRE_FALSE(no_from.has_value());
  CHECK(no_from.error().find("without a From") != std::string::npos);

  auto bare_lf = signer.signature_header("From: a@acme.example\nSubject: hi\n\nbody\n", now());
  REQUIRE_FALSE(bare_lf.has_value());
  CHECK(bare_lf.error().find("bare LF") != std::string::npos);

  auto garbage = signer.signature_header("this is not a message\r\n\r\n", now());
  REQUIRE_FALSE(garbage.has_value());
  CHECK(garbage.error().find("line 1") != std::string::npos);
}

TEST_CASE("dkim signing is safe from several threads with one keyring") {
  const DkimKeyring ring = acme_keyring();
  const std::string message = build_mime(sample());
  const auto t = now();
  std::vector<std::string> results(4);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < results.size(); ++i)
    threads.emplace_back([&, i] {
      for (int n = 0; n < 20; ++n) results[i] = ring.sign(message, "acme.example", t).value_or("error");
    });
  for (auto& th : threads) th.join();
  for (const auto& r : results) {
    REQUIRE(r != "error");
    CHECK(r == results[0]);  // RSA PKCS#1 v1.5 and Ed25519 are both deterministic
  }
  CHECK(verify(results[0], acme_records()).all_ok());
}

// ---- Keys and keyring -------------------------------------------------------------------------

TEST_CASE("dkim key files: clear errors that name the file") {
  TempDir dir;
  auto expect_error = [](const campaignd::Result<DkimSigner>& r, const std::string& file, const std::string& words) {
    REQUIRE_FALSE(r.has_value());
    INFO(r.error());
    CHECK(r.error().find(file) != std::string::npos);
    CHECK(r.error().find(words) != std::string::npos);
  };

  const std::string missing = dir.path() + "/missing.pem";
  expect_error(DkimSigner::load("acme.example", "s1", missing), missing, "cannot open");

  const std::string text = dir.write("garbage.pem", "this is not a key\n");
  expect_error(DkimSigner::load("acme.example", "s1", text), text, "not a PEM file");

  const std::string bad_pem =
      dir.write("bad.pem", "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
  expect_error(DkimSigner::load("acme.example", "s1", bad_pem), bad_pem, "not an unencrypted PEM private key");

  const std::string pub = dir.write("pub.pem", run("openssl pkey -in '" + keys().rsa2048 + "' -pubout").output);
  expect_error(DkimSigner::load("acme.example", "s1", pub), pub, "private key");

  expect_error(DkimSigner::load("acme.example", "s1", keys().rsa512), keys().rsa512, "512 bits is too short");
  expect_error(DkimSigner::load("acme.example", "s1", keys().rsa512), keys().rsa512, "RFC 8301");
  expect_error(DkimSigner::load("acme.example", "s1", keys().encrypted), keys().encrypted, "unencrypted");
  expect_error(DkimSigner::load("acme.example", "s1", keys().ec), keys().ec, "unsupported key type");

  expect_error(DkimSigner::load("acme.example", "s1; h=to", keys().rsa2048), keys().rsa2048, "invalid selector");
  expect_error(DkimSigner::load("acme.example\r\nBcc: x", "s1", keys().rsa2048), keys().rsa2048, "invalid domain");
  expect_error(DkimSigner::load("", "s1", keys().rsa2048), keys().rsa2048, "invalid domain");

  // 1024 bits is the floor, accepted (with a warning in the log).
  auto small = DkimSigner::load("acme.example", "s1", keys().rsa1024);
  REQUIRE(small.has_value());
  CHECK(small->key_bits() == 1024);
}

TEST_CASE("dkim keyring: domain matching, relative paths, rules on key sets") {
  const std::string message = build_mime(sample());

  SUBCASE("no key for the From domain leaves the message alone") {
    const DkimKeyring ring = acme_keyring();
    CHECK(ring.sign(message, "other.example", now()).value() == message);
    CHECK(ring.has_domain("ACME.example"));
    CHECK_FALSE(ring.has_domain("sub.acme.example"));
  }
  SUBCASE("an empty keyring signs nothing") {
    auto ring = DkimKeyring::load({}, "");
    REQUIRE(ring.has_value());
    CHECK(ring->empty());
    CHECK(ring->sign(message, "acme.example", now()).value() == message);
  }
  SUBCASE("domains compare without case; relative key files resolve against base_dir") {
    const std::filesystem::path rsa(keys().rsa2048);
    auto ring = DkimKeyring::load({{"Acme.Example", "s2026", rsa.filename().string()}}, rsa.parent_path().string());
    REQUIRE_MESSAGE(ring.has_value(), error_of(ring));
    auto signed_message = ring->sign(message, "acme.EXAMPLE", now());
    REQUIRE(signed_message.has_value());
    CHECK(tag(*signed_message, "d") == "Acme.Example");
    Verdict v = verify(*signed_message, {{"s2026._domainkey.acme.example", keys().rsa2048_txt}});
    CHECK_MESSAGE(v.all_ok(), v.output);
  }
  SUBCASE("two domains, each signed with its own keys only") {
    auto ring = DkimKeyring::load(
        {{"acme.example", "s2026", keys().rsa2048}, {"shop.example", "k1", keys().rsa1024}}, "");
    REQUIRE(ring.has_value());
    const std::string signed_message = ring->sign(message, "shop.example", now()).value();
    CHECK(tag(signed_message, "d") == "shop.example");
    CHECK(signed_message.find("d=acme.example") == std::string::npos);
  }
  SUBCASE("an ed25519 key alone is refused: never instead of RSA") {
    auto ring = DkimKeyring::load({{"acme.example", "ed2026", keys().ed25519}}, "");
    REQUIRE_FALSE(ring.has_value());
    CHECK(ring.error().find("ed2026") != std::string::npos);
    CHECK(ring.error().find("RSA") != std::string::npos);
  }
  SUBCASE("an RSA key of another domain does not count") {
    auto ring = DkimKeyring::load(
        {{"shop.example", "s1", keys().rsa2048}, {"acme.example", "ed2026", keys().ed25519}}, "");
    REQUIRE_FALSE(ring.has_value());
  }
  SUBCASE("the same selector twice is refused") {
    auto ring = DkimKeyring::load({{"acme.example", "s1", keys().rsa2048}, {"acme.example", "s1", keys().rsa1024}}, "");
    REQUIRE_FALSE(ring.has_value());
    CHECK(ring.error().find("twice") != std::string::npos);
  }
  SUBCASE("a bad key names domain, selector and file") {
    auto ring = DkimKeyring::load({{"acme.example", "old", "keys/old.pem"}}, "/nonexistent/etc");
    REQUIRE_FALSE(ring.has_value());
    CHECK(ring.error().find("acme.example") != std::string::npos);
    CHECK(ring.error().find("old") != std::string::npos);
    CHECK(ring.error().find("/nonexistent/etc/keys/old.pem") != std::string::npos);
  }
}
