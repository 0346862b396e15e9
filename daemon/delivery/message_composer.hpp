// Turns (campaign, contact, send) into the exact bytes we hand to the transport. The same code
// serves `campaignd preview` and the send workers, so a preview is what recipients get.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon/campaigns/campaign.hpp"
#include "daemon/campaigns/prepared_campaign.hpp"
#include "daemon/render/dkim_keyring.hpp"
#include "daemon/render/template_set.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/tracking/token.hpp"
#include "daemon/tracking/tracking_links.hpp"
#include "daemon/util/clock.hpp"
#include "daemon/util/result.hpp"

namespace campaignd::delivery {

struct ComposedMessage {
  std::string message_id;  // without angle brackets
  std::string mail_from;   // envelope sender
  std::string rcpt_to;
  std::string bytes;       // RFC 5322, CRLF
};

class MessageComposer {
 public:
  // With `links`, campaigns that track (campaign.track) get their links rewritten to click URLs
  // and an open pixel; without, every message goes out as rendered. `links` may be null and must
  // otherwise outlive the composer.
  // With `dkim`, every message whose From domain has keys is signed (RSA first, then Ed25519).
  MessageComposer(std::string public_url, const tracking::TokenSigner& signer,
                  const tracking::TrackingLinks* links = nullptr, const render::DkimKeyring* dkim = nullptr)
      : public_url_(std::move(public_url)), signer_(signer), links_(links), dkim_(dkim) {}

  // The Mustache context for one contact: attributes, then the contact's own fields, then links.
  nlohmann::json context_for(const campaigns::Campaign& campaign, const store::Contact& contact,
                             std::int64_t send_id) const;
  // `send_context` (sends.context) threads an autoresponse: in_reply_to, references, subject,
  // auto_submitted; it is also visible to templates as {{reply.*}}.
  Result<ComposedMessage> compose(const campaigns::Campaign& campaign, const render::TemplateSet& templates,
                                  const store::Contact& contact, std::int64_t send_id, util::UnixTime now,
                                  const nlohmann::json& send_context = nlohmann::json()) const;
  // The same for a send of a prepared campaign: with `variant` (ClaimedSend::variant, an A/B
  // variant's name) the variant's subject and templates, parsed at load time, are used instead
  // of the campaign's; a name the file no longer declares falls back to the campaign's.
  Result<ComposedMessage> compose(const campaigns::PreparedCampaign& prepared, const std::optional<std::string>& variant,
                                  const store::Contact& contact, std::int64_t send_id, util::UnixTime now,
                                  const nlohmann::json& send_context = nlohmann::json()) const {
    return compose(prepared.campaign, prepared.templates_for(variant), contact, send_id, now, send_context);
  }
  std::string unsubscribe_url(std::int64_t send_id) const;

 private:
  std::string base_url() const;  // public_url without a trailing slash
  nlohmann::json context_with(const campaigns::Campaign& campaign, const store::Contact& contact,
                              const std::string& unsubscribe) const;

  std::string public_url_;
  const tracking::TokenSigner& signer_;
  const tracking::TrackingLinks* links_;
  const render::DkimKeyring* dkim_;
};

}  // namespace campaignd::delivery
