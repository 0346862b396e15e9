// `campaignd preview CAMPAIGN --contact EMAIL`: the exact message that contact would get.
#include <filesystem>
#include <iostream>

#include "daemon/app/daemon.hpp"
#include "daemon/campaigns/campaign_loader.hpp"
#include "daemon/cli/commands.hpp"
#include "daemon/delivery/message_composer.hpp"
#include "daemon/store/campaigns.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/store.hpp"
#include "daemon/tracking/tracking_links.hpp"

namespace campaignd::cli {

namespace fs = std::filesystem;

int cmd_preview(const Args& args) {
  auto email = args.option("--contact");
  if (args.positional.size() != 1 || !email) {
    std::cerr << "usage: campaignd preview CAMPAIGN --contact EMAIL\n";
    return Exit::user_error;
  }
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  util::SystemClock clock;
  campaigns::LoaderPaths paths{cfg->resolve(cfg->templates_dir), cfg->resolve(cfg->rules_dir)};

  // CAMPAIGN is a file, or the name of a campaign in campaigns_dir.
  std::string wanted = args.positional.front();
  std::optional<campaigns::CheckedCampaign> found;
  if (fs::is_regular_file(wanted)) {
    std::vector<PlacedError> rule_errors;
    auto rules = segments::RuleBook::load(paths.rules_dir, rule_errors);
    if (!rules) {
      std::cerr << rules.error() << "\n";
      return Exit::user_error;
    }
    auto loaded = campaigns::load_campaign(wanted, paths, *rules, clock.now());
    if (!loaded) {
      for (const auto& e : loaded.error()) std::cerr << e.to_string() << "\n";
      return Exit::user_error;
    }
    if (!*loaded) {
      std::cerr << wanted << ": is an automation, not a campaign\n";
      return Exit::user_error;
    }
    found = std::move(**loaded);
  } else {
    auto folder = campaigns::load_folder(cfg->resolve(cfg->campaigns_dir), paths, clock.now());
    for (auto& c : folder.campaigns)
      if (c.campaign.name == wanted) found = std::move(c);
    if (!found) {
      for (const auto& e : folder.errors)
        if (fs::path(e.place.file).stem() == wanted) std::cerr << e.to_string() << "\n";
      std::cerr << "campaignd preview: no valid campaign named '" << wanted << "' in " << cfg->campaigns_dir << "\n";
      return Exit::user_error;
    }
  }

  auto opened = open_store(*cfg);
  if (!opened) return Exit::internal_error;
  const store::Database& reader = opened->reader;
  auto contact = store::ContactRepository(reader).find_by_email(*email);
  if (!contact) {
    std::cerr << contact.error() << "\n";
    return Exit::internal_error;
  }
  if (!*contact) {
    std::cerr << "campaignd preview: no contact " << *email << " (import contacts first)\n";
    return Exit::user_error;
  }
  auto key = app::token_key(*cfg);
  if (!key) {
    std::cerr << key.error() << "\n";
    return Exit::internal_error;
  }
  tracking::TokenSigner signer(*key);
  auto dkim = render::DkimKeyring::load(cfg->dkim, cfg->base_dir);
  if (!dkim) {
    std::cerr << "campaignd preview: dkim: " << dkim.error() << "\n";
    return Exit::user_error;
  }
  tracking::TrackingLinks links(cfg->public_url, signer);
  delivery::MessageComposer composer(cfg->public_url, signer, &links, &*dkim);
  // A preview has no send yet; its links carry send id 0, which matches nothing.
  auto message = composer.compose(found->campaign, found->templates, **contact, 0, clock.now());
  if (!message) {
    std::cerr << "campaignd preview: " << message.error() << "\n";
    return Exit::user_error;
  }
  std::cout << message->bytes;
  return Exit::ok;
}

}  // namespace campaignd::cli
