// The contact_topics table: which topics a contact joined (sign-up form) or left (preference
// page). A contact with no row for a topic receives it; one who left it does not.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::store {

struct TopicChoice {
  std::string topic;
  bool subscribed = true;
};

class TopicRepository {
 public:
  explicit TopicRepository(const Database& db) : db_(db) {}

  Status set(std::int64_t contact_id, const std::string& topic, bool subscribed, util::UnixTime now);
  Result<bool> has_left(std::int64_t contact_id, const std::string& topic);
  Result<std::vector<TopicChoice>> for_contact(std::int64_t contact_id);
  // Every topic a contact can choose from: those campaigns name and those contacts joined.
  Result<std::vector<std::string>> known_topics();

 private:
  const Database& db_;
};

}  // namespace campaignd::store
