// The autoreplies table: when each automation last answered each sender (RFC 3834's
// "at most one automatic reply per sender per period").
#pragma once

#include <optional>
#include <string>

#include "daemon/store/database.hpp"
#include "daemon/util/clock.hpp"

namespace campaignd::automation {

class AutoreplyRepository {
 public:
  explicit AutoreplyRepository(const store::Database& db) : db_(db) {}

  // `sender` normalised.
  Result<std::optional<util::UnixTime>> last_reply(const std::string& sender, const std::string& automation);
  Status record(const std::string& sender, const std::string& automation, util::UnixTime at);

 private:
  const store::Database& db_;
};

}  // namespace campaignd::automation
