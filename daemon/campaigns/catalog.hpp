// What the loader last accepted: the prepared campaigns by id, and the files it refused with
// their errors. Written by the scheduler, read by the send workers and /status. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "daemon/campaigns/prepared_campaign.hpp"
#include "daemon/util/source_place.hpp"

namespace campaignd::campaigns {

class Catalog {
 public:
  PreparedCampaignPtr find(std::int64_t id) const {
    std::lock_guard lock(mutex_);
    auto it = campaigns_.find(id);
    return it == campaigns_.end() ? nullptr : it->second;
  }
  std::vector<PreparedCampaignPtr> all() const {
    std::lock_guard lock(mutex_);
    std::vector<PreparedCampaignPtr> out;
    for (const auto& [id, c] : campaigns_) out.push_back(c);
    return out;
  }
  void replace(std::map<std::int64_t, PreparedCampaignPtr> campaigns, std::vector<PlacedError> errors) {
    std::lock_guard lock(mutex_);
    campaigns_ = std::move(campaigns);
    errors_ = std::move(errors);
  }
  std::vector<PlacedError> errors() const {
    std::lock_guard lock(mutex_);
    return errors_;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::int64_t, PreparedCampaignPtr> campaigns_;
  std::vector<PlacedError> errors_;
};

}  // namespace campaignd::campaigns
