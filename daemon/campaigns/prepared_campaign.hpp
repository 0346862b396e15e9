// A campaign ready to send: its parsed file, its templates parsed once, its own throttle.
// Shared read-only between the worker threads (the throttle is thread-safe).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "daemon/campaigns/campaign.hpp"
#include "daemon/render/template_set.hpp"
#include "daemon/util/rate.hpp"

namespace campaignd::campaigns {

struct PreparedCampaign {
  std::int64_t id = 0;  // campaigns.id
  Campaign campaign;
  render::TemplateSet templates;
  // A/B variants' templates (subject and bodies), parsed at load time like `templates`.
  std::map<std::string, render::TemplateSet> variant_templates;
  mutable util::RateLimiter throttle;  // unlimited unless the file sets `throttle:`

  PreparedCampaign(std::int64_t id_, Campaign c, render::TemplateSet t,
                   std::map<std::string, render::TemplateSet> variants = {})
      : id(id_), campaign(std::move(c)), templates(std::move(t)), variant_templates(std::move(variants)),
        throttle(campaign.throttle ? campaign.throttle->per_second() : 0.0) {}

  // The templates a send uses: its variant's (sends.variant), or the campaign's when the send has
  // none or names a variant the file no longer declares (an edit must not strand queued mail).
  const render::TemplateSet& templates_for(const std::optional<std::string>& variant) const {
    if (variant)
      if (auto it = variant_templates.find(*variant); it != variant_templates.end()) return it->second;
    return templates;
  }
};

using PreparedCampaignPtr = std::shared_ptr<const PreparedCampaign>;

}  // namespace campaignd::campaigns
