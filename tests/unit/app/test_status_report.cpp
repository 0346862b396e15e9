// app/status_report: the /status document (SPEC.md keys) and the /metrics text built from it.
#include <doctest/doctest.h>

#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "daemon/app/status_report.hpp"
#include "daemon/store/campaigns.hpp"
#include "tests/unit/store/temp_database.hpp"

using namespace campaignd;

namespace {

struct StatusFixture {
  testing::TempFolder tmp;
  store::Database db = testing::open_migrated(tmp.file("status.db"));

  std::int64_t campaign(const std::string& name, const std::string& state, std::int64_t recipients) {
    store::CampaignRepository repo(db);
    auto row = repo.upsert(name, "campaigns/" + name + ".yaml", "{}", 1000, 1000);
    REQUIRE(row);
    if (state != "scheduled") {
      REQUIRE(repo.mark_started(row->id, recipients, 1100));
      if (state != "running") REQUIRE(repo.set_state(row->id, state, 1200));
    }
    return row->id;
  }
  void sends(std::int64_t campaign_id, const std::string& state, int n) {
    for (int i = 0; i < n; ++i) {
      static int next_contact = 0;
      ++next_contact;
      REQUIRE(db.exec("INSERT INTO contacts (id, email, created_at, updated_at) VALUES (" +
                      std::to_string(next_contact) + ", 'c" + std::to_string(next_contact) + "@x.example', 0, 0)"));
      REQUIRE(db.exec("INSERT INTO sends (campaign_id, contact_id, state) VALUES (" + std::to_string(campaign_id) +
                      ", " + std::to_string(next_contact) + ", '" + state + "')"));
    }
  }
};

// Checks the Prometheus text exposition format line by line; returns the sample names.
std::set<std::string> check_prometheus(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*")*\})? (-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)$)");
  static const std::regex help(R"(^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .+$)");
  static const std::regex type(R"(^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$)");
  std::set<std::string> typed, names;
  std::istringstream in(text);
  std::string line;
  REQUIRE(!text.empty());
  CHECK(text.back() == '\n');
  while (std::getline(in, line)) {
    CAPTURE(line);
    std::smatch m;
    if (line.starts_with("# HELP")) {
      CHECK(std::regex_match(line, help));
    } else if (line.starts_with("# TYPE")) {
      REQUIRE(std::regex_match(line, m, type));
      CHECK(typed.insert(m[1]).second);  // one TYPE per metric
    } else {
      REQUIRE(std::regex_match(line, m, sample));
      CHECK(typed.contains(m[1]));  // TYPE comes before the samples
      names.insert(m[1]);
    }
  }
  return names;
}

}  // namespace

TEST_CASE("status: the document carries every key SPEC.md names") {
  StatusFixture f;
  auto spring = f.campaign("spring-sale", "running", 6);
  auto autumn = f.campaign("autumn", "done", 2);
  f.campaign("winter", "scheduled", 0);
  f.sends(spring, "sent", 3);
  f.sends(spring, "failed", 1);
  f.sends(spring, "skipped", 1);
  f.sends(spring, "queued", 1);
  f.sends(autumn, "sent", 2);
  REQUIRE(f.db.exec("INSERT INTO events (kind, contact_id, campaign_id, at, machine) VALUES "
                    "('opened', 1, " + std::to_string(spring) + ", 1, 0), ('opened', 1, " + std::to_string(spring) +
                    ", 2, 0), ('opened', 2, " + std::to_string(spring) + ", 3, 1), ('clicked', 2, " +
                    std::to_string(spring) + ", 4, 0)"));

  app::LiveFigures live;
  live.uptime_s = 12.7;
  live.send_rate = 3.5;
  live.in_flight = 2;
  live.sent = 40;
  live.failed = 1;
  live.retried = 4;
  live.transport = "maildir://var/outbox";
  std::vector<PlacedError> errors = {{{"campaigns/bad.yaml", 3, 9}, "from: not a valid address"}};
  auto status = app::build_status(f.db, errors, live);
  REQUIRE_MESSAGE(status, (status ? "" : status.error()));
  const auto& s = *status;

  CHECK(s["version"].is_string());
  CHECK_FALSE(s["version"].get<std::string>().empty());
  CHECK(s["uptime_s"] == 12);
  CHECK(s["uptime_s"].is_number_integer());
  CHECK(s["queue_depth"] == 1);
  CHECK(s["send_rate"] == 3.5);
  CHECK(s["send_rate"].is_number_float());
  REQUIRE(s["campaigns"].is_array());
  REQUIRE(s["campaigns"].size() == 3);
  const auto& c0 = s["campaigns"][0];
  CHECK(c0["name"] == "spring-sale");
  CHECK(c0["state"] == "running");
  CHECK(c0["recipients"] == 6);
  CHECK(c0["sent"] == 3);
  CHECK(c0["failed"] == 1);
  CHECK(c0["skipped"] == 1);
  CHECK(c0["queued"] == 1);
  CHECK(c0["started_at"] == 1100);
  CHECK(c0["events"]["opened"] == 1);   // distinct contacts, human opens only
  CHECK(c0["events"]["clicked"] == 1);
  const auto& c1 = s["campaigns"][1];
  CHECK(c1["name"] == "autumn");
  CHECK(c1["state"] == "done");
  CHECK(c1["sent"] == 2);
  CHECK(c1["finished_at"] == 1200);
  CHECK(s["campaigns"][2]["state"] == "scheduled");
  CHECK(s["campaigns"][2]["recipients"] == 0);
  for (const auto& c : s["campaigns"])
    for (const char* key : {"name", "state", "recipients", "sent", "failed", "skipped"}) {
      CAPTURE(key);
      CHECK(c.contains(key));
    }
  REQUIRE(s["errors"].is_array());
  REQUIRE(s["errors"].size() == 1);
  CHECK(s["errors"][0] == nlohmann::json{{"file", "campaigns/bad.yaml"}, {"line", 3}, {"col", 9},
                                         {"message", "from: not a valid address"}});
  CHECK(s["totals"]["sent"] == 40);
  CHECK(s["in_flight"] == 2);
}

TEST_CASE("status: an empty store gives empty lists and zeros") {
  StatusFixture f;
  auto status = app::build_status(f.db, {}, app::LiveFigures{});
  REQUIRE(status);
  CHECK((*status)["campaigns"] == nlohmann::json::array());
  CHECK((*status)["errors"] == nlohmann::json::array());
  CHECK((*status)["queue_depth"] == 0);
  CHECK((*status)["uptime_s"] == 0);
  CHECK((*status)["send_rate"] == 0.0);
}

TEST_CASE("metrics: valid Prometheus text with the status figures") {
  StatusFixture f;
  auto spring = f.campaign("spring-sale", "running", 3);
  f.sends(spring, "sent", 2);
  f.sends(spring, "queued", 1);
  app::LiveFigures live;
  live.uptime_s = 99;
  live.send_rate = 1.25;
  live.sent = 7;
  auto status = app::build_status(f.db, {{{"campaigns/x.yaml", 1, 1}, "bad"}}, live);
  REQUIRE(status);
  std::string text = app::metrics_from_status(*status);
  auto names = check_prometheus(text);
  for (const char* name : {"campaignd_up", "campaignd_uptime_seconds", "campaignd_queue_depth", "campaignd_send_rate",
                           "campaignd_sends", "campaignd_sent_total", "campaignd_file_errors"}) {
    CAPTURE(name);
    CHECK(names.contains(name));
  }
  CHECK(text.find("\ncampaignd_uptime_seconds 99\n") != std::string::npos);
  CHECK(text.find("\ncampaignd_queue_depth 1\n") != std::string::npos);
  CHECK(text.find("\ncampaignd_send_rate 1.25\n") != std::string::npos);
  CHECK(text.find("\ncampaignd_sends{campaign=\"spring-sale\",state=\"sent\"} 2\n") != std::string::npos);
  CHECK(text.find("\ncampaignd_sends{campaign=\"spring-sale\",state=\"queued\"} 1\n") != std::string::npos);
  CHECK(text.find("\ncampaignd_sent_total 7\n") != std::string::npos);
  CHECK(text.find("\ncampaignd_file_errors 1\n") != std::string::npos);
}

TEST_CASE("metrics: label values are escaped") {
  nlohmann::json status = {{"uptime_s", 1},
                           {"queue_depth", 0},
                           {"send_rate", 0.0},
                           {"campaigns", nlohmann::json::array({{{"name", "we\"ird\\name\nx"}, {"sent", 1}}})},
                           {"totals", {{"sent", 0}, {"failed", 0}, {"retried", 0}}},
                           {"errors", nlohmann::json::array()}};
  std::string text = app::metrics_from_status(status);
  check_prometheus(text);
  CHECK(text.find(R"(campaignd_sends{campaign="we\"ird\\name\nx",state="sent"} 1)") != std::string::npos);
}
