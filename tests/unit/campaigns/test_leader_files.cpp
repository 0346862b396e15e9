// campaigns/leader_files and store/leader_files: the leader's folders packed into the store and
// unpacked on another node byte for byte; paths that would leave the folder are refused.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "daemon/campaigns/leader_files.hpp"
#include "daemon/store/store.hpp"
#include "tests/unit/campaigns/campaign_fixture.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;
namespace fs = std::filesystem;

namespace {

campaigns::SourceFolders folders_of(const testing::CampaignFolders& f) {
  return {f.campaigns_dir(), f.templates_dir(), f.rules_dir()};
}

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST_CASE("leader files: packed from the three folders, partials and bytes included, hidden files left out") {
  testing::CampaignFolders f;
  f.write_campaign("sale.yaml", "name: sale\n");
  f.write_campaign(".sale.yaml.swp", "editor junk");
  f.write_template("promo");
  fs::create_directories(f.tmp().file("templates/partials"));
  f.write_template_file("partials/footer.mustache", std::string("bytes \xff\x00 kept", 13));
  f.write_rule("vip", "has_tag(\"vip\")");

  auto packed = campaigns::pack_leader_files(folders_of(f));
  REQUIRE_MESSAGE(packed, (packed ? "" : packed.error()));
  CHECK(packed->files.size() == 5);
  CHECK(packed->files.contains("campaigns/sale.yaml"));
  CHECK_FALSE(packed->files.contains("campaigns/.sale.yaml.swp"));
  CHECK(packed->files.at("templates/partials/footer.mustache") == std::string("bytes \xff\x00 kept", 13));
  CHECK(packed->files.contains("templates/promo.html.mustache"));
  CHECK(packed->files.contains("rules/vip.yaml"));
  CHECK(packed->digest.size() == 64);

  SUBCASE("the digest follows the content") {
    auto again = campaigns::pack_leader_files(folders_of(f));
    REQUIRE(again);
    CHECK(again->digest == packed->digest);
    f.write_campaign("sale.yaml", "name: sale2\n");
    auto changed = campaigns::pack_leader_files(folders_of(f));
    REQUIRE(changed);
    CHECK(changed->digest != packed->digest);
  }

  SUBCASE("unpacked elsewhere, the same files; the older copy goes") {
    testing::TempFolder other;
    auto unpacked = campaigns::unpack_leader_files(*packed, other.file("leader-files"));
    REQUIRE_MESSAGE(unpacked, (unpacked ? "" : unpacked.error()));
    CHECK(read(unpacked->campaigns_dir + "/sale.yaml") == "name: sale\n");
    CHECK(read(unpacked->templates_dir + "/partials/footer.mustache") == std::string("bytes \xff\x00 kept", 13));
    CHECK(fs::exists(unpacked->rules_dir + "/vip.yaml"));
    auto repacked = campaigns::pack_leader_files(*unpacked);
    REQUIRE(repacked);
    CHECK(repacked->digest == packed->digest);

    f.write_campaign("sale.yaml", "name: sale2\n");
    auto changed = campaigns::pack_leader_files(folders_of(f));
    REQUIRE(changed);
    auto second = campaigns::unpack_leader_files(*changed, other.file("leader-files"));
    REQUIRE(second);
    CHECK(second->campaigns_dir != unpacked->campaigns_dir);
    CHECK(read(second->campaigns_dir + "/sale.yaml") == "name: sale2\n");
    CHECK_FALSE(fs::exists(unpacked->campaigns_dir));
    int entries = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(other.file("leader-files"))) ++entries;
    CHECK(entries == 1);
  }
}

TEST_CASE("leader files: a missing folder packs as empty and unpacks as an empty folder") {
  testing::TempFolder tmp;
  fs::create_directories(tmp.file("campaigns"));
  tmp.write("campaigns/a.yaml", "x");
  auto packed = campaigns::pack_leader_files({tmp.file("campaigns"), tmp.file("no-templates"), tmp.file("no-rules")});
  REQUIRE(packed);
  CHECK(packed->files.size() == 1);
  auto unpacked = campaigns::unpack_leader_files(*packed, tmp.file("copy"));
  REQUIRE(unpacked);
  CHECK(fs::is_directory(unpacked->templates_dir));
  CHECK(fs::is_directory(unpacked->rules_dir));
}

TEST_CASE("leader files: a stored path that would leave the folder is refused and nothing is written") {
  testing::TempFolder tmp;
  for (std::string bad : {"../escape.yaml", "campaigns/../../escape.yaml", "/etc/passwd", "elsewhere/x.yaml",
                          "campaigns", "templates/./x"}) {
    CAPTURE(bad);
    store::LeaderFilesRow row{std::string(64, 'a'), {{"campaigns/ok.yaml", "x"}, {bad, "y"}}, "n1", 0};
    auto unpacked = campaigns::unpack_leader_files(row, tmp.file("copy"));
    REQUIRE_FALSE(unpacked);
    CHECK(unpacked.error().find(bad) != std::string::npos);
    CHECK_FALSE(fs::exists(tmp.file("copy")));
  }
}

TEST_CASE("leader files: the store keeps one copy, bytes intact") {
  testing::TempFolder tmp;
  auto store = store::Store::open(testing::store_target(tmp.file("var/campaignd.db")));
  REQUIRE_MESSAGE(store, (store ? "" : store.error()));
  auto reader = (*store)->open_reader();
  REQUIRE(reader);
  auto none = store::LeaderFilesRepository(*reader).digest();
  REQUIRE(none);
  CHECK_FALSE(*none);

  store::LeaderFilesRow first{"d1", {{"campaigns/a.yaml", std::string("\x00\xfe", 2)}}, "node-a", 100};
  store::LeaderFilesRow second{"d2", {{"templates/t.html.mustache", "<p>{{x}}</p>"}}, "node-b", 200};
  for (const auto* row : {&first, &second})
    REQUIRE((*store)->writer().run([&](const store::Database& db) { return store::LeaderFilesRepository(db).save(*row); }));
  auto digest = store::LeaderFilesRepository(*reader).digest();
  REQUIRE(digest);
  CHECK(*digest == std::optional<std::string>("d2"));
  auto loaded = store::LeaderFilesRepository(*reader).load();
  REQUIRE(loaded);
  REQUIRE(*loaded);
  CHECK((*loaded)->node == "node-b");
  CHECK((*loaded)->taken_at == 200);
  CHECK((*loaded)->files == second.files);

  REQUIRE((*store)->writer().run([&](const store::Database& db) { return store::LeaderFilesRepository(db).save(first); }));
  loaded = store::LeaderFilesRepository(*reader).load();
  REQUIRE(loaded);
  CHECK((*loaded)->files.at("campaigns/a.yaml") == std::string("\x00\xfe", 2));
  CHECK(testing::query_int(*reader, "SELECT COUNT(*) FROM leader_files") == 1);

  SUBCASE("a damaged copy is an error, not an empty folder") {
    REQUIRE((*store)->writer().run(
        [&](const store::Database& db) { return db.exec("UPDATE leader_files SET files = '{\"campaigns/a.yaml\": 5}'"); }));
    auto damaged = store::LeaderFilesRepository(*reader).load();
    REQUIRE_FALSE(damaged);
    CHECK(damaged.error().find("campaigns/a.yaml") != std::string::npos);
  }
}
