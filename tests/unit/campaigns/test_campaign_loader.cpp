// campaigns/campaign_loader: campaign files checked against their templates and rules.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/campaigns/campaign_loader.hpp"
#include "tests/unit/campaigns/campaign_fixture.hpp"

using namespace campaignd;
using testing::CampaignFolders;

namespace {

constexpr util::UnixTime kNow = 1772323200;

segments::RuleBook rules_of(const CampaignFolders& f) {
  std::vector<PlacedError> errors;
  auto book = segments::RuleBook::load(f.rules_dir(), errors);
  REQUIRE(book);
  REQUIRE(errors.empty());
  return std::move(*book);
}

std::vector<std::string> strings_of(const std::vector<PlacedError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.to_string());
  return out;
}

}  // namespace

TEST_CASE("campaign loader: a good campaign loads with its templates") {
  CampaignFolders f;
  f.write_template("promo");
  f.write_rule("buyers", "orders >= 2");
  std::string path = f.write_campaign("spring.yaml",
                                      "from: \"Acme <news@acme.example>\"\nsubject: \"Hi {{first_name}}\"\n"
                                      "template: promo\nsegment: buyers\n");
  auto loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE_MESSAGE(loaded, (loaded ? "" : strings_of(loaded.error()).front()));
  REQUIRE(loaded->has_value());
  const auto& checked = **loaded;
  CHECK(checked.campaign.name == "spring");
  CHECK(checked.campaign.segment == "buyers");
  CHECK(checked.templates.has_html());
  CHECK(checked.templates.has_text());
  auto rendered = checked.templates.render(campaigns::sample_contact_context());
  REQUIRE(rendered);
  CHECK(rendered->subject == "Hi Sam");
  REQUIRE(rendered->text);
  CHECK(rendered->text->find("https://example.com/u/sample") != std::string::npos);
}

TEST_CASE("campaign loader: inline segments and `all` need no rule file") {
  CampaignFolders f;
  f.write_template("promo");
  auto rules = rules_of(f);
  for (const char* segment : {"all", "'country = \"CA\" and orders >= 2'", "'has_tag(\"vip\")'"}) {
    CAPTURE(segment);
    std::string path = f.write_campaign(
        "c.yaml", std::string("from: a@acme.example\nsubject: s\ntemplate: promo\nsegment: ") + segment + "\n");
    auto loaded = campaigns::load_campaign(path, f.loader_paths(), rules, kNow);
    CHECK(loaded);
  }
}

TEST_CASE("campaign loader: a segment error points into the segment line") {
  CampaignFolders f;
  f.write_template("promo");
  std::string path = f.write_campaign("bad-seg.yaml",
                                      "from: a@acme.example\nsubject: s\ntemplate: promo\n"
                                      "segment: 'orders >= and x'\n");
  auto loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE_FALSE(loaded);
  REQUIRE(loaded.error().size() == 1);
  const auto& e = loaded.error()[0];
  CHECK(e.place.file == path);
  CHECK(e.place.line == 4);
  // 'and' is the 11th character of the expression, which starts at column 11 (after the quote).
  CHECK(e.place.col == 21);
  CHECK(e.message.find("'and'") != std::string::npos);

  path = f.write_campaign("typo.yaml", "from: a@acme.example\nsubject: s\ntemplate: promo\nsegment: byuers\n");
  loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE_FALSE(loaded);
  REQUIRE(loaded.error().size() == 1);
  CHECK(loaded.error()[0].place.line == 4);
  CHECK(loaded.error()[0].place.col == 10);
  CHECK(loaded.error()[0].message.find("no rule named 'byuers'") != std::string::npos);
}

TEST_CASE("campaign loader: a missing template points at the `template:` line") {
  CampaignFolders f;
  std::string path = f.write_campaign("c.yaml", "from: a@acme.example\nsubject: s\n\ntemplate:   nowhere\n");
  auto loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE_FALSE(loaded);
  REQUIRE(loaded.error().size() == 1);
  CHECK(loaded.error()[0].place.file == path);
  CHECK(loaded.error()[0].place.line == 4);
  CHECK(loaded.error()[0].place.col == 13);
  CHECK(loaded.error()[0].message.find("nowhere") != std::string::npos);
}

TEST_CASE("campaign loader: a template without an unsubscribe link is refused") {
  CampaignFolders f;
  f.write_template_file("bare.txt.mustache", "Hello {{first_name}}\n");
  std::string path = f.write_campaign("c.yaml", "from: a@acme.example\nsubject: s\ntemplate: bare\n");
  auto loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE_FALSE(loaded);
  REQUIRE(loaded.error().size() == 1);
  CHECK(loaded.error()[0].place.line == 3);
  CHECK(loaded.error()[0].message.find("unsubscribe_url") != std::string::npos);
}

TEST_CASE("campaign loader: every error of one file is reported") {
  CampaignFolders f;
  f.write_template("promo");
  std::string path = f.write_campaign("c.yaml",
                                      "from: not-an-address\nsubject: s\ntemplate: promo\nsegment: 'orders >>'\n");
  auto loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE_FALSE(loaded);
  auto errors = strings_of(loaded.error());
  REQUIRE(errors.size() == 2);
  CHECK(errors[0] == path + ":1:7: from: not a valid address: 'not-an-address'");
  CHECK(errors[1].starts_with(path + ":4:"));

  // A bad from, a bad segment and a missing template together.
  path = f.write_campaign("d.yaml", "from: nobody\nsubject: s\ntemplate: gone\nsegment: '('\n");
  loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE_FALSE(loaded);
  errors = strings_of(loaded.error());
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].starts_with(path + ":1:7:"));
  CHECK(errors[1].starts_with(path + ":4:"));
  CHECK(errors[2].starts_with(path + ":3:11:"));
}

TEST_CASE("campaign loader: automation files are recognised, not loaded") {
  CampaignFolders f;
  std::string path = f.write_campaign("welcome.yaml", "trigger: subscribed\nsteps: []\n");
  auto loaded = campaigns::load_campaign(path, f.loader_paths(), rules_of(f), kNow);
  REQUIRE(loaded);
  CHECK_FALSE(loaded->has_value());
}

TEST_CASE("campaign loader: a folder loads in name order, skipping other files") {
  CampaignFolders f;
  f.write_template("promo");
  f.write_campaign("b.yaml", "from: a@acme.example\nsubject: s\ntemplate: promo\n");
  f.write_campaign("a.yml", "from: a@acme.example\nsubject: s\ntemplate: promo\n");
  f.write_campaign("welcome.yaml", "trigger: subscribed\n");
  f.write_campaign("notes.txt", "not: a campaign\n");
  f.write_campaign(".hidden.yaml", "garbage: [\n");
  f.write_campaign("broken.yaml", "from: a@acme.example\nsubject: s\n");
  auto load = campaigns::load_folder(f.campaigns_dir(), f.loader_paths(), kNow);
  REQUIRE(load.campaigns.size() == 2);
  CHECK(load.campaigns[0].campaign.name == "a");
  CHECK(load.campaigns[1].campaign.name == "b");
  REQUIRE(load.automation_files.size() == 1);
  CHECK(load.automation_files[0].ends_with("welcome.yaml"));
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].place.file.ends_with("broken.yaml"));
  CHECK(load.errors[0].message == "missing required key 'template'");
}

TEST_CASE("campaign loader: two files with one campaign name, the second is an error naming the first") {
  CampaignFolders f;
  f.write_template("promo");
  std::string first = f.write_campaign("a-first.yaml", "name: sale\nfrom: a@acme.example\nsubject: s\ntemplate: promo\n");
  std::string second = f.write_campaign("b-second.yaml", "name: sale\nfrom: b@acme.example\nsubject: t\ntemplate: promo\n");
  auto load = campaigns::load_folder(f.campaigns_dir(), f.loader_paths(), kNow);
  REQUIRE(load.campaigns.size() == 1);
  CHECK(load.campaigns[0].campaign.file == first);
  REQUIRE(load.errors.size() == 1);
  CHECK(load.errors[0].place.file == second);
  CHECK(load.errors[0].message.find("'sale'") != std::string::npos);
  CHECK(load.errors[0].message.find(first) != std::string::npos);
}

TEST_CASE("campaign loader: errors from rule files and a missing campaigns folder") {
  CampaignFolders f;
  f.write_template("promo");
  f.tmp().write("rules/broken.yaml", "segment: 'orders >='\n");
  f.write_campaign("c.yaml", "from: a@acme.example\nsubject: s\ntemplate: promo\nsegment: broken\n");
  auto load = campaigns::load_folder(f.campaigns_dir(), f.loader_paths(), kNow);
  CHECK(load.campaigns.empty());
  // The rule file's own error, and the campaign that refers to it.
  REQUIRE(load.errors.size() == 2);
  CHECK(load.errors[0].place.file.ends_with("broken.yaml"));
  CHECK(load.errors[1].place.file.ends_with("c.yaml"));
  CHECK(load.errors[1].place.line == 4);

  CampaignFolders g;
  auto none = campaigns::load_folder(g.tmp().file("no-such-folder"), g.loader_paths(), kNow);
  CHECK(none.campaigns.empty());
  REQUIRE(none.errors.size() == 1);
  CHECK(none.errors[0].message.find("cannot read campaigns folder") != std::string::npos);
}
