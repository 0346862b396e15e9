// A campaign ready to send: its parsed file, its templates parsed once, its own throttle.
// Shared read-only between the worker threads (the throttle is thread-safe).
#pragma once

#include <cstdint>
#include <memory>

#include "daemon/campaigns/campaign.hpp"
#include "daemon/render/template_set.hpp"
#include "daemon/util/rate.hpp"

namespace campaignd::campaigns {

struct PreparedCampaign {
  std::int64_t id = 0;  // campaigns.id
  Campaign campaign;
  render::TemplateSet templates;
  mutable util::RateLimiter throttle;  // unlimited unless the file sets `throttle:`

  PreparedCampaign(std::int64_t id_, Campaign c, render::TemplateSet t)
      : id(id_), campaign(std::move(c)), templates(std::move(t)),
        throttle(campaign.throttle ? campaign.throttle->per_second() : 0.0) {}
};

using PreparedCampaignPtr = std::shared_ptr<const PreparedCampaign>;

}  // namespace campaignd::campaigns
