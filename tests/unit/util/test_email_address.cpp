// util/email_address: what the edges accept as an address and as a mailbox.
#include <doctest/doctest.h>

#include <string>

#include "daemon/util/email_address.hpp"

using namespace campaignd;
using util::is_valid_address;
using util::parse_mailbox;

TEST_CASE("address: dot-atom local parts and LDH domains are valid") {
  for (const char* good : {"ann@example.com", "a@b.co", "first.last@example.com", "ann+news@example.com",
                           "o'brien@example.ie", "x_y-z@mail.example.org", "UPPER@EXAMPLE.COM", "1@2.io",
                           "a!#$%&'*+-/=?^_`{|}~@example.com", "ann@sub-domain.example.co.uk", "ann@xn--bcher-kva.de"}) {
    CAPTURE(good);
    CHECK(is_valid_address(good));
  }
}

TEST_CASE("address: invalid local parts, domains and lengths") {
  for (const char* bad :
       {"", "@", "ann", "ann@", "@example.com", "ann@example", "ann@@example.com", ".ann@example.com",
        "ann.@example.com", "an..n@example.com", "ann smith@example.com", " ann@example.com", "ann@example.com ",
        "\"ann\"@example.com", "ann@-example.com", "ann@example-.com", "ann@exa_mple.com", "ann@example..com",
        "ann@.example.com", "ann@example.com.", "ann@exam ple.com", "<ann@example.com>", "ann@example.com,bob@example.com",
        "ann\r\n@example.com", "ann@example.com\r\nBcc: x@y.z", "ann\t@example.com", "ann@ex\x01" "ample.com",
        "ann(comment)@example.com", "ann@[127.0.0.1]", "ann@exämple.com", "änn@example.com"}) {
    CAPTURE(bad);
    CHECK_FALSE(is_valid_address(bad));
  }
  std::string local64(64, 'a'), local65(65, 'a');
  CHECK(is_valid_address(local64 + "@example.com"));
  CHECK_FALSE(is_valid_address(local65 + "@example.com"));
  std::string label63(63, 'b'), label64(64, 'b');
  CHECK(is_valid_address("a@" + label63 + ".com"));
  CHECK_FALSE(is_valid_address("a@" + label64 + ".com"));
  // 254 octets in all at most.
  std::string domain = label63 + "." + label63 + "." + label63 + "." + std::string(57, 'c');  // 249
  CHECK(is_valid_address("abcd@" + domain));   // 254
  CHECK_FALSE(is_valid_address("abcde@" + domain));  // 255
}

TEST_CASE("address: normalise trims and lower-cases") {
  CHECK(util::normalize_address("  Ann.Smith@Example.COM \n") == "ann.smith@example.com");
  CHECK(util::normalize_address("bob@example.com") == "bob@example.com");
  CHECK(util::normalize_address("") == "");
  CHECK(util::domain_of("Ann@Example.COM") == "example.com");
  CHECK(util::domain_of("no-at-sign") == "");
}

TEST_CASE("mailbox: bare, angle-bracketed, named and quoted") {
  auto m = parse_mailbox("news@acme.example");
  REQUIRE(m);
  CHECK(m->address == "news@acme.example");
  CHECK(m->display_name == "");

  m = parse_mailbox("<news@acme.example>");
  REQUIRE(m);
  CHECK(m->address == "news@acme.example");
  CHECK(m->display_name == "");

  m = parse_mailbox("Acme Store <news@acme.example>");
  REQUIRE(m);
  CHECK(m->display_name == "Acme Store");
  CHECK(m->address == "news@acme.example");

  m = parse_mailbox("  Acme Store   < news@acme.example >  ");
  REQUIRE(m);
  CHECK(m->display_name == "Acme Store");
  CHECK(m->address == "news@acme.example");

  m = parse_mailbox("\"Acme, Inc\" <news@acme.example>");
  REQUIRE(m);
  CHECK(m->display_name == "Acme, Inc");
  CHECK(m->address == "news@acme.example");

  m = parse_mailbox(R"("The \"Best\" Store" <news@acme.example>)");
  REQUIRE(m);
  CHECK(m->display_name == "The \"Best\" Store");

  m = parse_mailbox("\"Shop <Outlet>\" <news@acme.example>");
  REQUIRE(m);
  CHECK(m->display_name == "Shop <Outlet>");
  CHECK(m->address == "news@acme.example");

  m = parse_mailbox("Café Zoë <news@acme.example>");  // UTF-8 names are kept as they are
  REQUIRE(m);
  CHECK(m->display_name == "Café Zoë");
}

TEST_CASE("mailbox: invalid addresses, brackets and control characters") {
  for (const char* bad : {"", "Acme Store", "Acme Store <>", "Acme Store <news@acme.example", "Acme <news@acme>",
                          "news@acme.example>", "Acme Store news@acme.example", "a@b.example, c@d.example",
                          "<a@b.example> trailing", "Acme\r\nBcc: x@evil.example <news@acme.example>",
                          "Acme\x01Store <news@acme.example>", "\"Acme\nStore\" <news@acme.example>",
                          "Acme <news @acme.example>", "<<news@acme.example>>"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_mailbox(bad));
  }
}
