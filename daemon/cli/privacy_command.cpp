// `campaignd forget EMAIL` and `campaignd export EMAIL`: a person's right to erasure and to
// access (GDPR art. 17 and 15). Forgetting deletes the contact, its tags and its events, cuts
// its sends loose (the campaign's counts stay), and keeps only a hashed suppression so no
// later import can mail the address again.
#include <iostream>

#include "daemon/cli/commands.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/events.hpp"
#include "daemon/store/sends.hpp"
#include "daemon/store/store.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/util/email_address.hpp"

namespace campaignd::cli {

namespace {

std::optional<std::string> address_argument(const Args& args, const char* command) {
  if (args.positional.size() != 1) {
    std::cerr << "usage: campaignd " << command << " EMAIL\n";
    return std::nullopt;
  }
  std::string email = util::normalize_address(args.positional[0]);
  if (!util::is_valid_address(email)) {
    std::cerr << "campaignd " << command << ": not a valid address: " << args.positional[0] << "\n";
    return std::nullopt;
  }
  return email;
}

}  // namespace

int cmd_forget(const Args& args) {
  auto email = address_argument(args, "forget");
  if (!email) return Exit::user_error;
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  auto store = store::Store::open(cfg->store_target());
  if (!store) {
    std::cerr << store.error() << "\n";
    return Exit::internal_error;
  }
  util::SystemClock clock;
  bool had_contact = false;
  auto s = (*store)->writer().run([&](const store::Database& db) -> Status {
    store::SuppressionRepository suppressions(db);
    if (auto r = suppressions.add(*email, "forgotten", clock.now()); !r) return r;
    if (auto r = suppressions.forget(*email); !r) return r;
    store::ContactRepository contacts(db);
    auto id = contacts.id_for_email(*email);
    if (!id) return std::unexpected(id.error());
    if (!*id) return {};
    had_contact = true;
    return contacts.erase(**id);  // tags and events cascade; sends keep their row, contact NULL
  });
  if (!s) {
    std::cerr << "campaignd forget: " << s.error() << "\n";
    return Exit::internal_error;
  }
  std::cout << (had_contact ? "forgot " : "no contact held for ") << *email
            << "; a hashed suppression keeps it from being mailed again\n";
  return Exit::ok;
}

int cmd_export(const Args& args) {
  auto email = address_argument(args, "export");
  if (!email) return Exit::user_error;
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  auto opened = open_store(*cfg);
  if (!opened) return Exit::internal_error;
  const store::Database& reader = opened->reader;
  nlohmann::json out = {{"email", *email}};
  auto contact = store::ContactRepository(reader).find_by_email(*email);
  auto suppressed = store::SuppressionRepository(reader).is_suppressed(*email);
  if (!contact || !suppressed) {
    std::cerr << "campaignd export: " << (!contact ? contact.error() : suppressed.error()) << "\n";
    return Exit::internal_error;
  }
  out["suppressed"] = *suppressed;
  if (!*contact) {
    out["contact"] = nullptr;
    std::cout << out.dump(2) << "\n";
    return Exit::ok;
  }
  const store::Contact& c = **contact;
  out["contact"] = {{"id", c.id},
                    {"first_name", c.first_name},
                    {"last_name", c.last_name},
                    {"status", c.status},
                    {"attributes", c.attrs},
                    {"tags", c.tags},
                    {"created_at", util::format_iso8601(c.created_at)},
                    {"updated_at", util::format_iso8601(c.updated_at)}};
  auto events = store::EventRepository(reader).for_contact(c.id);
  auto sends = store::SendRepository(reader).for_contact(c.id);
  if (!events || !sends) {
    std::cerr << "campaignd export: " << (!events ? events.error() : sends.error()) << "\n";
    return Exit::internal_error;
  }
  out["events"] = nlohmann::json::array();
  for (const auto& e : *events) {
    nlohmann::json j = {{"kind", e.kind}, {"at", util::format_iso8601(e.at)}, {"machine", e.machine}, {"data", e.data}};
    if (e.amount) j["amount"] = *e.amount;
    out["events"].push_back(std::move(j));
  }
  out["sends"] = *sends;
  std::cout << out.dump(2) << "\n";
  return Exit::ok;
}

}  // namespace campaignd::cli
