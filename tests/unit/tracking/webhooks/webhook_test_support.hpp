// A store with one campaign sent to four contacts (each send has our Message-ID), the shipped
// adapters copied into a temp webhooks folder, secrets set for the test's duration, and the
// OpenSSL CLI for keys and certificates the tests sign with.
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/event_recorder.hpp"
#include "daemon/tracking/webhooks/webhook_service.hpp"
#include "tests/unit/store/temp_database.hpp"

namespace campaignd::tracking::webhooks::webhook_testing {

namespace fs = std::filesystem;

inline fs::path source_dir() {
#ifdef CAMPAIGND_SOURCE_DIR
  return CAMPAIGND_SOURCE_DIR;
#else
  return fs::absolute(fs::path(__FILE__)).parent_path().parent_path().parent_path().parent_path().parent_path();
#endif
}

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in, "cannot read " << path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// A payload sample from tests/unit/tracking/webhooks/data/.
inline std::string sample(const std::string& name) {
  return read_text(source_dir() / "tests/unit/tracking/webhooks/data" / name);
}

// Sets an environment variable for a scope, restoring what was there.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    ::setenv(name_.c_str(), value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_.c_str(), old_->c_str(), 1);
    else
      ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Runs a shell command; its exit status must be 0.
inline void run(const std::string& command) {
  int rc = std::system(command.c_str());
  REQUIRE_MESSAGE(rc == 0, "command failed: " << command);
}

// The four recipients of the seeded campaign and our Message-IDs for them (stored bare).
inline const std::vector<std::string> kRecipients = {"alice@example.com", "bob@example.com", "carol@example.com",
                                                     "dave@example.com"};
inline std::string message_id_for(const std::string& email) {
  return email.substr(0, email.find('@')) + ".1700000000@mail.acme.test";
}

constexpr util::UnixTime kNow = 1700000000;

class Fixture {
 public:
  Fixture() : clock(kNow) {
    auto opened = store::Store::open(campaignd::testing::store_target(tmp.file("campaignd.db")));
    REQUIRE_MESSAGE(opened, (opened ? "" : opened.error()));
    store_ = std::move(*opened);
    recorder = std::make_unique<EventRecorder>(*store_, clock);
    auto seeded = store_->writer().run([&](const store::Database& db) -> Status {
      auto campaign = store::CampaignRepository(db).upsert("spring-sale", "spring-sale.yaml", "{}", kNow, kNow);
      if (!campaign) return std::unexpected(campaign.error());
      campaign_id = campaign->id;
      store::SendRepository sends(db);
      for (const auto& email : kRecipients) {
        store::Contact c;
        c.email = email;
        c.updated_at = kNow;
        auto id = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
        if (!id) return std::unexpected(id.error());
        contact_ids[email] = *id;
        if (auto s = sends.enqueue_one(campaign->id, *id, kNow); !s) return s;
      }
      auto claimed = sends.claim_due(kNow, 100);
      if (!claimed) return std::unexpected(claimed.error());
      for (const auto& send : *claimed) {
        std::string email;
        for (const auto& [e, id] : contact_ids)
          if (id == send.contact_id) email = e;
        send_ids[email] = send.id;
        if (auto s = sends.mark_sent(send.id, message_id_for(email), 250, kNow); !s) return s;
      }
      return {};
    });
    REQUIRE_MESSAGE(seeded, (seeded ? "" : seeded.error()));
    auto reader = store_->open_reader();
    REQUIRE(reader);
    reader_ = std::make_unique<store::Database>(std::move(*reader));
    fs::create_directories(webhooks_dir());
  }

  std::string webhooks_dir() const { return tmp.file("webhooks"); }
  // Copies a shipped adapter (webhooks/NAME.yaml) into the test's webhooks folder.
  void install(const std::string& provider) const {
    fs::copy_file(source_dir() / "webhooks" / (provider + ".yaml"), fs::path(webhooks_dir()) / (provider + ".yaml"),
                  fs::copy_options::overwrite_existing);
  }
  void write_adapter(const std::string& name, const std::string& text) const {
    std::ofstream(fs::path(webhooks_dir()) / name, std::ios::binary) << text;
  }
  WebhookService load() {
    std::vector<PlacedError> errors;
    auto service = WebhookService::load(webhooks_dir(), *recorder, clock, *store_, errors);
    REQUIRE_MESSAGE(service, (service ? "" : service.error()));
    load_errors = errors;
    return std::move(*service);
  }

  long long count(const std::string& sql) const { return campaignd::testing::query_int(*reader_, sql); }
  std::string text(const std::string& sql) const { return campaignd::testing::query_text(*reader_, sql); }
  long long events(const std::string& kind) const {
    return count("SELECT count(*) FROM events WHERE kind = '" + kind + "'");
  }
  std::string contact_status(const std::string& email) const {
    return text("SELECT status FROM contacts WHERE email = '" + email + "'");
  }
  bool suppressed(const std::string& email) const {
    return count("SELECT count(*) FROM suppressions WHERE email = '" + email + "'") > 0;
  }
  // The send an event of `kind` for `email` was tied to (0 = none).
  long long send_of(const std::string& kind, const std::string& email) const {
    return count("SELECT e.send_id FROM events e JOIN contacts c ON c.id = e.contact_id WHERE e.kind = '" + kind +
                 "' AND c.email = '" + email + "' ORDER BY e.id LIMIT 1");
  }

  campaignd::testing::TempFolder tmp;
  util::ManualClock clock;
  std::unique_ptr<EventRecorder> recorder;
  std::int64_t campaign_id = 0;
  std::map<std::string, std::int64_t> contact_ids, send_ids;
  std::vector<PlacedError> load_errors;

 private:
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<store::Database> reader_;

 public:
  store::Store& store() { return *store_; }
};

inline http::HttpRequest post(std::string body, std::map<std::string, std::string> headers = {}) {
  http::HttpRequest r;
  r.method = "POST";
  r.body = std::move(body);
  r.headers = std::move(headers);
  r.remote_addr = "127.0.0.1";
  return r;
}

inline nlohmann::json json_of(const http::HttpResponse& r) {
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  REQUIRE_MESSAGE(!j.is_discarded(), "not JSON: " << r.body);
  return j;
}

}  // namespace campaignd::tracking::webhooks::webhook_testing
