// RFC 3834 section 2 and RFC 5230's vacation rules, applied to recorded `replied` events.
#include "daemon/automation/reply_policy.hpp"

#include "daemon/util/email_address.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::automation {

namespace {

std::string text_of(const nlohmann::json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || it->is_null()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_boolean()) return it->get<bool>() ? "true" : "";
  return it->dump();
}

bool truthy(const nlohmann::json& data, const char* key) {
  auto it = data.find(key);
  if (it == data.end() || it->is_null()) return false;
  if (it->is_boolean()) return it->get<bool>();
  if (it->is_string()) {
    std::string v = util::to_lower(util::trim(it->get<std::string>()));
    return !v.empty() && v != "false" && v != "0" && v != "no";
  }
  if (it->is_number()) return it->get<double>() != 0;
  return true;
}

// "<a@b>" from "a@b" or "<a@b>"; empty for nothing.
std::string bracketed(std::string_view id) {
  std::string s(util::trim(id));
  if (s.empty()) return s;
  if (s.front() != '<') s.insert(s.begin(), '<');
  if (s.back() != '>') s.push_back('>');
  return util::strip_controls(s);
}

}  // namespace

ReplyDecision decide_auto_reply(const nlohmann::json& data, std::string_view contact_email,
                                const std::set<std::string>& our_addresses) {
  ReplyDecision d;
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& f = data.is_object() ? data : empty;
  std::string from = text_of(f, "from");
  if (auto box = util::parse_mailbox(from)) d.sender = util::normalize_address(box->address);
  else if (!util::trim(from).empty()) d.sender = util::normalize_address(from);
  else d.sender = util::normalize_address(contact_email);

  auto refuse = [&](std::string why) {
    d.answer = false;
    d.reason = std::move(why);
    return d;
  };
  std::string auto_submitted = util::to_lower(util::trim(text_of(f, "auto_submitted")));
  if (!auto_submitted.empty() && auto_submitted != "no") return refuse("Auto-Submitted: " + auto_submitted);
  if (truthy(f, "auto_reason")) return refuse("automatic message: " + text_of(f, "auto_reason"));
  std::string precedence = util::to_lower(util::trim(text_of(f, "precedence")));
  if (!precedence.empty()) return refuse("Precedence: " + precedence);
  if (truthy(f, "list") || truthy(f, "list_id")) return refuse("mailing-list message");
  if (truthy(f, "x_auto_response_suppress")) return refuse("X-Auto-Response-Suppress");
  if (f.contains("return_path")) {
    std::string rp(util::trim(text_of(f, "return_path")));
    if (rp.empty() || rp == "<>") return refuse("null return path");
  }
  if (d.sender.empty() || !util::is_valid_address(d.sender)) return refuse("no sender address");
  std::string local = d.sender.substr(0, d.sender.find('@'));
  if (local == "mailer-daemon" || local == "postmaster" || local.starts_with("owner-") || local.ends_with("-request") ||
      local == "noreply" || local == "no-reply" || local == "do-not-reply" || local == "donotreply")
    return refuse("sender " + d.sender + " is a system address");
  if (our_addresses.contains(d.sender)) return refuse("sender " + d.sender + " is one of our own addresses");
  d.answer = true;
  return d;
}

nlohmann::json auto_reply_context(const nlohmann::json& data) {
  nlohmann::json out = {{"auto_submitted", "auto-replied"}};
  if (!data.is_object()) return out;
  std::string id = data.contains("message_id") && data["message_id"].is_string()
                       ? bracketed(data["message_id"].get<std::string>())
                       : std::string();
  std::string refs;
  if (auto it = data.find("references"); it != data.end() && it->is_string())
    refs = util::strip_controls(util::trim(it->get<std::string>()));
  if (!id.empty()) {
    out["in_reply_to"] = id;
    if (refs.find(id) == std::string::npos) refs = refs.empty() ? id : refs + " " + id;
  }
  if (!refs.empty()) out["references"] = refs;
  std::string subject;
  if (auto it = data.find("subject"); it != data.end() && it->is_string())
    subject = util::strip_controls(util::trim(it->get<std::string>()));
  out["original_subject"] = subject;
  std::string lower = util::to_lower(subject);
  out["subject"] = lower.starts_with("re:") ? subject : (subject.empty() ? std::string("Re:") : "Re: " + subject);
  return out;
}

}  // namespace campaignd::automation
