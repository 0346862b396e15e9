// Automatic-reply detection, reply snippets and per-send reply addresses.
#include <doctest/doctest.h>

#include "daemon/tracking/inbound/auto_reply.hpp"
#include "daemon/tracking/inbound/reply_address.hpp"
#include "daemon/tracking/inbound/reply_snippet.hpp"
#include "tests/unit/tracking/inbound/inbound_test_support.hpp"

using namespace campaignd;
using namespace campaignd::tracking::inbound;

namespace {
AutoReplyVerdict detect(const std::string& headers, std::string_view envelope = {}) {
  auto m = parse_message(headers + "\n\nbody");
  REQUIRE(m);
  return detect_auto_reply(m->root.headers, envelope);
}
}  // namespace

TEST_CASE("auto reply: the samples") {
  auto ooo = inbound_testing::parse_sample("out_of_office.eml");
  auto v = detect_auto_reply(ooo.root.headers);
  CHECK(v.automatic);
  CHECK(v.reason == "Auto-Submitted: auto-replied");
  CHECK(text_body(ooo.root).find("nicht im Büro") != std::string::npos);

  for (const char* human : {"gmail_reply.eml", "outlook_reply.eml", "multipart_utf8_reply.eml"}) {
    CAPTURE(human);
    auto m = inbound_testing::parse_sample(human);
    CHECK_FALSE(detect_auto_reply(m.root.headers).automatic);
  }
  for (const char* bounce : {"postfix_host_not_found.eml", "exchange_user_unknown.eml"}) {
    CAPTURE(bounce);
    CHECK(detect_auto_reply(inbound_testing::parse_sample(bounce).root.headers).automatic);
  }
}

TEST_CASE("auto reply: RFC 3834 markers") {
  CHECK_FALSE(detect("From: a@example.com\nAuto-Submitted: no").automatic);
  CHECK(detect("From: a@example.com\nAuto-Submitted: auto-generated").automatic);
  CHECK(detect("From: a@example.com\nAuto-Submitted: auto-notified; owner-email=x@y").automatic);
  CHECK(detect("From: a@example.com\nPrecedence: bulk").automatic);
  CHECK(detect("From: a@example.com\nPrecedence: JUNK").automatic);
  CHECK_FALSE(detect("From: a@example.com\nPrecedence: first-class").automatic);
  CHECK(detect("From: a@example.com\nList-Id: <news.example.com>").automatic);
  CHECK(detect("From: a@example.com\nX-Auto-Response-Suppress: All").automatic);
  CHECK(detect("From: a@example.com\nX-Autoreply: yes").automatic);
  CHECK(detect("From: a@example.com\nX-Autorespond: vacation").automatic);
  CHECK_FALSE(detect("From: a@example.com\nX-Autoreply: no").automatic);
}

TEST_CASE("auto reply: robot senders and the null return path") {
  CHECK(detect("From: a@example.com\nReturn-Path: <>").automatic);
  CHECK(detect("From: a@example.com", "<>").automatic);
  CHECK(detect("From: MAILER-DAEMON@mx.example.com").automatic);
  CHECK(detect("From: owner-list@example.com").automatic);
  CHECK(detect("From: list-request@example.com").automatic);
  CHECK(detect("From: No Reply <no-reply@shop.example>").automatic);
  CHECK(detect("From: a@example.com", "bounces+abc@example.com").automatic);
  CHECK_FALSE(detect("From: Request Team <request@example.com>").automatic);
  CHECK_FALSE(detect("From: a@example.com\nReturn-Path: <a@example.com>").automatic);
  CHECK_FALSE(is_robot_sender(""));
  CHECK(is_robot_sender("Postmaster@Example.com"));
}

TEST_CASE("auto reply: out-of-office subjects in several languages") {
  for (const char* s : {"Out of Office: Spring sale", "Automatic reply: Spring sale", "Abwesenheitsnotiz: Angebot",
                        "Réponse automatique : Soldes", "Respuesta automática: Rebajas", "Risposta automatica: Saldi",
                        "Automatisch antwoord: Uitverkoop", "Resposta automática: Promoção", "Automatiskt svar: Rea",
                        "自動応答: セール", "Автоматический ответ: Распродажа", "Re: I am out of the office until Monday"}) {
    std::string subject = s;
    CAPTURE(subject);
    CHECK(is_auto_reply_subject(s));
  }
  CHECK(detect("From: a@example.com\nSubject: =?utf-8?Q?R=C3=A9ponse_automatique_:_Soldes?=").automatic);
  for (const char* s : {"Re: Spring sale", "Question about my order", "Re: office chairs on sale?", ""}) {
    std::string subject = s;
    CAPTURE(subject);
    CHECK_FALSE(is_auto_reply_subject(s));
  }
}

TEST_CASE("reply snippet: the samples") {
  auto gmail = inbound_testing::parse_sample("gmail_reply.eml");
  CHECK(reply_snippet(text_body(gmail.root)) ==
        "Hi,\n\nDoes the discount also apply to the garden furniture?\n\nThanks,\nFrank");
  auto outlook = inbound_testing::parse_sample("outlook_reply.eml");
  CHECK(reply_snippet(text_body(outlook.root)) ==
        "Please take me off the paper catalogue list, I only want the e-mails. Merci and have a nice déjeuner.\n\nGrace");
  auto utf = inbound_testing::parse_sample("multipart_utf8_reply.eml");
  CHECK(reply_snippet(text_body(utf.root)) ==
        "Guten Tag,\n\ngibt es die Regenjacke auch in Größe M? Für meine Frau – sie möchte zwei.\n\nViele Grüße\nJürgen");
}

TEST_CASE("reply snippet: quote markers") {
  CHECK(reply_snippet("Yes!\n> quoted\nmore") == "Yes!");
  CHECK(reply_snippet("Yes!\n\n-----Original Message-----\nFrom: x") == "Yes!");
  CHECK(reply_snippet("Ja.\n\n-----Ursprüngliche Nachricht-----\nVon: x") == "Ja.");
  CHECK(reply_snippet("Thanks\n-- \nJohn Smith\nCEO") == "Thanks");
  CHECK(reply_snippet("Sure\n\nSent from my iPhone\n\nOn 2 Mar 2026, at 10:15, Acme wrote:\n> x") == "Sure");
  CHECK(reply_snippet("Oui\n\nLe lun. 2 mars 2026 à 10:15, Acme <news@acme.example> a écrit :\n> x") == "Oui");
  CHECK(reply_snippet("Nein\n\nAm Mo., 2. März 2026 um 10:15 Uhr schrieb Acme Store <news@acme.example>:\n> x") ==
        "Nein");
  CHECK(reply_snippet("Well, as my colleague wrote: yes.") == "Well, as my colleague wrote: yes.");
  CHECK(reply_snippet("Si\n\nEl lun, 2 mar 2026 a las 10:15, Acme (<news@acme.example>)\nescribió:\n> x") == "Si");
  CHECK(reply_snippet("Ok\n\nFrom: Acme Store <news@acme.example>\nSent: Monday\nTo: me\n\nbody") == "Ok");
  CHECK(reply_snippet("From: here I write about where I come from: Canada.\nThat is all.") ==
        "From: here I write about where I come from: Canada.\nThat is all.");
  CHECK(reply_snippet("  \n\n  padded  \n\n\n\nlines \n") == "padded\n\nlines");
  CHECK(reply_snippet("> only a quote").empty());
  CHECK(reply_snippet("").empty());
}

TEST_CASE("reply snippet: at most max_chars code points, never a cut character") {
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "é ";
  std::string s = reply_snippet(long_text, 500);
  std::size_t code_points = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++code_points;
  CHECK(code_points <= 500);
  CHECK(s.size() > 400);
  CHECK(s.substr(s.size() - 3) == "…");
  CHECK(reply_snippet("short", 500) == "short");
  CHECK(reply_snippet("abcdef", 4) == "abc…");
}

TEST_CASE("reply address: round trip, display names, forgery") {
  tracking::TokenSigner signer("k3y");
  std::string a = reply_address("support@acme.example", 42, signer);
  CHECK(a.rfind("support+r-", 0) == 0);
  CHECK(a.substr(a.size() - 13) == "@acme.example");
  CHECK(send_id_from_reply_address(a, signer) == 42);
  CHECK(send_id_from_reply_address("Support <" + a + ">", signer) == 42);

  std::string named = reply_address("Acme Support <support@acme.example>", 7, signer);
  CHECK(named.rfind("Acme Support <support+r-", 0) == 0);
  CHECK(named.back() == '>');
  CHECK(send_id_from_reply_address(named, signer) == 7);

  // Another key, an altered token, no token, a token of the open pixel for the same send.
  CHECK_FALSE(send_id_from_reply_address(a, tracking::TokenSigner("other")));
  std::string altered = a;
  altered[12] = altered[12] == 'A' ? 'B' : 'A';
  CHECK_FALSE(send_id_from_reply_address(altered, signer));
  CHECK_FALSE(send_id_from_reply_address("support@acme.example", signer));
  CHECK_FALSE(send_id_from_reply_address("support+r-@acme.example", signer));
  std::string pixel = "support+r-" + signer.sign(tracking::TokenPurpose::open, "42") + "@acme.example";
  CHECK_FALSE(send_id_from_reply_address(pixel, signer));
  CHECK(reply_address("not an address", 1, signer).empty());
}
