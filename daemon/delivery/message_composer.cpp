#include "daemon/delivery/message_composer.hpp"

#include "daemon/consent/subscribe_service.hpp"
#include "daemon/render/link_rewriter.hpp"
#include "daemon/render/mime.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::delivery {

std::string MessageComposer::base_url() const {
  std::string base = public_url_;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base;
}

std::string MessageComposer::unsubscribe_url(std::int64_t send_id) const {
  return base_url() + "/u/" + signer_.sign(tracking::TokenPurpose::unsubscribe, std::to_string(send_id));
}

nlohmann::json MessageComposer::context_for(const campaigns::Campaign& campaign, const store::Contact& contact,
                                            std::int64_t send_id) const {
  return context_with(campaign, contact, unsubscribe_url(send_id));
}

nlohmann::json MessageComposer::context_with(const campaigns::Campaign& campaign, const store::Contact& contact,
                                             const std::string& unsubscribe) const {
  nlohmann::json ctx = contact.attrs.is_object() ? contact.attrs : nlohmann::json::object();
  ctx["email"] = contact.email;
  ctx["first_name"] = contact.first_name;
  ctx["last_name"] = contact.last_name;
  ctx["tags"] = contact.tags;
  ctx["campaign"] = campaign.name;
  ctx["unsubscribe_url"] = unsubscribe;
  return ctx;
}

Result<ComposedMessage> MessageComposer::compose(const campaigns::Campaign& campaign,
                                                 const render::TemplateSet& templates, const store::Contact& contact,
                                                 std::int64_t send_id, util::UnixTime now,
                                                 const nlohmann::json& send_context) const {
  auto to = util::parse_mailbox(contact.email);
  if (!to) return fail("contact " + std::to_string(contact.id) + " has an invalid address");
  std::string full_name = contact.first_name;
  if (!contact.last_name.empty()) full_name += (full_name.empty() ? "" : " ") + contact.last_name;
  to->display_name = full_name;

  const bool confirmation = campaign.kind == campaigns::CampaignKind::confirmation;
  // Signed once: the template's link and the List-Unsubscribe header are the same URL.
  const std::string unsubscribe = unsubscribe_url(send_id);
  nlohmann::json context = context_with(campaign, contact, unsubscribe);
  if (confirmation) {
    context["confirm_url"] = base_url() + "/c/" + consent::SubscribeService::confirm_token(signer_, contact.id, now);
    context.erase("unsubscribe_url");
  }
  const bool answer = send_context.is_object() && !send_context.empty();
  if (answer) context["reply"] = send_context;
  auto content = templates.render(context);
  if (!content) return std::unexpected(content.error());

  render::OutgoingMessage m;
  m.from = campaign.from;
  m.reply_to = campaign.reply_to;
  m.to = *to;
  m.subject = content->subject;
  m.html = content->html;
  m.text = content->text;
  m.date = now;
  m.message_id = render::make_message_id(util::domain_of(campaign.from.address));
  if (campaign.track && links_) {
    // The unsubscribe link stays direct: it must work even if tracking is ever switched off.
    render::UrlMapper to_click = [&](std::string_view url) { return links_->click_url(send_id, url); };
    render::RewriteOptions keep{unsubscribe};
    if (m.html)
      m.html = render::add_open_pixel(render::rewrite_html_links(*m.html, to_click, keep).html,
                                      links_->open_url(send_id));
    if (m.text) m.text = render::rewrite_text_links(*m.text, to_click, keep).text;
  }
  if (confirmation) {
    // Transactional: the answer to a sign-up, not list mail.
    m.extra_headers = {{"Auto-Submitted", "auto-generated"}};
  } else {
    // RFC 2369: the HTTPS link (RFC 8058 one-click) first, a mailto: for clients that prefer mail.
    std::string token = unsubscribe.substr(unsubscribe.rfind('/') + 1);
    std::string mailto = "mailto:unsubscribe+" + token + "@" + util::domain_of(campaign.from.address) +
                         "?subject=unsubscribe";
    m.extra_headers = {
      {"List-Unsubscribe", "<" + unsubscribe + ">, <" + mailto + ">"},
      {"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
      {"List-Id", campaign.name + " <" + campaign.name + ".list." + util::domain_of(campaign.from.address) + ">"},
      {"Auto-Submitted", "auto-generated"},
      {"X-Campaign", campaign.name},
    };
  }

  if (answer) {
    // RFC 3834: an automatic answer says so and threads onto the message it answers.
    auto text = [&](const char* key) { return send_context.value(key, std::string()); };
    if (!text("subject").empty()) m.subject = text("subject");
    for (auto& [name, value] : m.extra_headers)
      if (name == "Auto-Submitted") value = text("auto_submitted").empty() ? "auto-replied" : text("auto_submitted");
    if (!text("in_reply_to").empty()) m.extra_headers.emplace_back("In-Reply-To", text("in_reply_to"));
    if (!text("references").empty()) m.extra_headers.emplace_back("References", text("references"));
  }

  ComposedMessage out;
  out.message_id = m.message_id;
  out.mail_from = campaign.from.address;
  out.rcpt_to = contact.email;
  out.bytes = render::build_mime(m);
  if (dkim_ && !dkim_->empty()) {
    auto signed_bytes = dkim_->sign(out.bytes, util::domain_of(campaign.from.address), now);
    if (!signed_bytes) return fail("DKIM: " + signed_bytes.error());
    out.bytes = std::move(*signed_bytes);
  }
  return out;
}

}  // namespace campaignd::delivery
