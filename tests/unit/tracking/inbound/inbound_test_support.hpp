// Samples under data/ and a temporary store with one campaign, for the inbound mail tests.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/tracking/inbound/mail_parser.hpp"
#include "tests/unit/store/temp_database.hpp"

namespace campaignd::inbound_testing {

inline std::filesystem::path data_dir() {
#ifdef CAMPAIGND_SOURCE_DIR
  return std::filesystem::path(CAMPAIGND_SOURCE_DIR) / "tests/unit/tracking/inbound/data";
#else
  return std::filesystem::absolute(std::filesystem::path(__FILE__)).parent_path() / "data";
#endif
}

inline std::string sample(const std::string& name) {
  std::ifstream in(data_dir() / name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing sample " << name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline tracking::inbound::ParsedMessage parse_sample(const std::string& name) {
  auto parsed = tracking::inbound::parse_message(sample(name));
  REQUIRE_MESSAGE(parsed, (parsed ? "" : parsed.error()));
  return std::move(*parsed);
}

// A migrated store in a temp folder with campaign "spring-sale"; add_send() adds a contact and
// a sent send with a known Message-ID.
class TempStore {
 public:
  TempStore() {
    auto s = store::Store::open(campaignd::testing::store_target(tmp_.file("inbound.db")));
    REQUIRE_MESSAGE(s, (s ? "" : s.error()));
    store_ = std::move(*s);
    auto st = store_->writer().run([&](const store::Database& db) -> Status {
      auto c = store::CampaignRepository(db).upsert("spring-sale", "campaigns/spring-sale.yaml", "{}", 0, 0);
      if (!c) return std::unexpected(c.error());
      campaign_id_ = c->id;
      return {};
    });
    REQUIRE_MESSAGE(st, (st ? "" : st.error()));
  }

  store::Store& store() { return *store_; }

  // The send id of a new contact `email` whose message went out with `message_id` (no <>).
  std::int64_t add_send(const std::string& email, const std::string& message_id) {
    std::int64_t send_id = 0;
    auto st = store_->writer().run([&](const store::Database& db) -> Status {
      store::Contact c;
      c.email = email;
      c.created_at = c.updated_at = 1;
      auto contact = store::ContactRepository(db).upsert_returning_id(c, store::UpsertMode::merge);
      if (!contact) return std::unexpected(contact.error());
      store::SendRepository sends(db);
      if (auto s = sends.enqueue_one(campaign_id_, *contact, 1); !s) return s;
      auto q = db.prepare("SELECT id FROM sends WHERE campaign_id = ? AND contact_id = ?");
      if (!q) return std::unexpected(q.error());
      q->bind(1, campaign_id_).bind(2, *contact);
      auto row = q->step();
      if (!row) return std::unexpected(row.error());
      if (!*row) return fail("send not found");
      send_id = q->column_int(0);
      return sends.mark_sent(send_id, message_id, 250, 2);
    });
    REQUIRE_MESSAGE(st, (st ? "" : st.error()));
    return send_id;
  }

  std::string text(const std::string& sql) {
    auto db = store_->open_reader();
    REQUIRE(db);
    return testing::query_text(*db, sql);
  }
  long long number(const std::string& sql) {
    auto db = store_->open_reader();
    REQUIRE(db);
    return testing::query_int(*db, sql);
  }
  std::string contact_status(const std::string& email) {
    return text("SELECT status FROM contacts WHERE email = '" + email + "'");
  }
  bool suppressed(const std::string& email) {
    auto db = store_->open_reader();
    REQUIRE(db);
    auto s = store::SuppressionRepository(*db).is_suppressed(email);
    REQUIRE(s);
    return *s;
  }
  long long events(const std::string& kind) {
    return number("SELECT count(*) FROM events WHERE kind = '" + kind + "'");
  }

 private:
  testing::TempFolder tmp_;
  std::unique_ptr<store::Store> store_;
  std::int64_t campaign_id_ = 0;
};

}  // namespace campaignd::inbound_testing
