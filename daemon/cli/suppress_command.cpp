// `campaignd suppress add EMAIL [--reason TEXT] | remove EMAIL | list | import FILE.csv`.
#include <fstream>
#include <iostream>

#include "daemon/cli/commands.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/store.hpp"
#include "daemon/store/suppressions.hpp"
#include "daemon/util/csv.hpp"
#include "daemon/util/email_address.hpp"
#include "daemon/util/strings.hpp"

namespace campaignd::cli {

namespace {

constexpr const char* kUsage =
    "usage: campaignd suppress add EMAIL [--reason TEXT] | remove EMAIL | list | import FILE.csv\n";

// Suppresses one address: the suppression row, and a known contact marked unsubscribed.
Status suppress(const store::Database& db, const std::string& email, const std::string& reason, util::UnixTime now) {
  if (auto s = store::SuppressionRepository(db).add(email, reason, now); !s) return s;
  store::ContactRepository contacts(db);
  auto id = contacts.id_for_email(email);
  if (!id) return std::unexpected(id.error());
  if (*id) {
    auto contact = contacts.find_by_id(**id);
    if (!contact) return std::unexpected(contact.error());
    if (*contact && !store::is_opted_out_status((*contact)->status))
      return contacts.set_status(**id, "unsubscribed", now);
  }
  return {};
}

}  // namespace

int cmd_suppress(const Args& args) {
  if (args.positional.empty()) {
    std::cerr << kUsage;
    return Exit::user_error;
  }
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  auto store = store::Store::open(cfg->store_target());
  if (!store) {
    std::cerr << store.error() << "\n";
    return Exit::internal_error;
  }
  util::SystemClock clock;
  const std::string& verb = args.positional[0];

  if ((verb == "add" || verb == "remove") && args.positional.size() == 2) {
    std::string email = util::normalize_address(args.positional[1]);
    if (!util::is_valid_address(email)) {
      std::cerr << "campaignd suppress: not a valid address: " << args.positional[1] << "\n";
      return Exit::user_error;
    }
    std::string reason = args.option("--reason").value_or("manual");
    auto s = (*store)->writer().run([&](const store::Database& db) -> Status {
      if (verb == "add") return suppress(db, email, reason, clock.now());
      return store::SuppressionRepository(db).remove(email);
    });
    if (!s) {
      std::cerr << "campaignd suppress: " << s.error() << "\n";
      return Exit::internal_error;
    }
    std::cout << (verb == "add" ? "suppressed " : "no longer suppressed: ") << email << "\n";
    if (verb == "remove")
      std::cout << "(the contact's status is unchanged; a contact who unsubscribed stays unsubscribed)\n";
    return Exit::ok;
  }
  if (verb == "list" && args.positional.size() == 1) {
    auto reader = (*store)->open_reader();
    if (!reader) {
      std::cerr << reader.error() << "\n";
      return Exit::internal_error;
    }
    auto rows = store::SuppressionRepository(*reader).list();
    if (!rows) {
      std::cerr << rows.error() << "\n";
      return Exit::internal_error;
    }
    std::cout << "email,reason,since\n";
    for (const auto& r : *rows)
      std::cout << r.email.value_or("(forgotten " + r.email_hash.substr(0, 12) + ")") << "," << r.reason << ","
                << util::format_iso8601(r.created_at) << "\n";
    return Exit::ok;
  }
  if (verb == "import" && args.positional.size() == 2) {
    const std::string& path = args.positional[1];
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      std::cerr << "campaignd suppress import: cannot read " << path << "\n";
      return Exit::user_error;
    }
    util::CsvReader reader(in, path);
    util::CsvRecord record;
    long email_col = -1, reason_col = -1, added = 0, bad = 0;
    std::vector<std::pair<std::string, std::string>> batch;
    auto flush = [&]() -> Status {
      auto s = (*store)->writer().run([&](const store::Database& db) -> Status {
        for (const auto& [email, reason] : batch)
          if (auto r = suppress(db, email, reason, clock.now()); !r) return r;
        return {};
      });
      batch.clear();
      return s;
    };
    bool header = true;
    while (true) {
      auto next = reader.next(record);
      if (!next) {
        std::cerr << next.error() << "\n";
        ++bad;
        continue;
      }
      if (!*next) break;
      if (header) {
        header = false;
        for (size_t i = 0; i < record.fields.size(); ++i) {
          auto name = util::to_lower(util::trim(record.fields[i]));
          if (name == "email") email_col = static_cast<long>(i);
          if (name == "reason") reason_col = static_cast<long>(i);
        }
        if (email_col < 0) {
          std::cerr << path << ":1: no `email` column\n";
          return Exit::user_error;
        }
        continue;
      }
      if (static_cast<long>(record.fields.size()) <= email_col) {
        std::cerr << path << ":" << record.line << ": missing email\n";
        ++bad;
        continue;
      }
      std::string email = util::normalize_address(record.fields[static_cast<size_t>(email_col)]);
      if (!util::is_valid_address(email)) {
        std::cerr << path << ":" << record.line << ": invalid email '" << email << "'\n";
        ++bad;
        continue;
      }
      std::string reason = reason_col >= 0 && static_cast<long>(record.fields.size()) > reason_col
                               ? record.fields[static_cast<size_t>(reason_col)]
                               : "imported";
      batch.emplace_back(email, reason.empty() ? "imported" : reason);
      ++added;
      if (batch.size() >= 5000)
        if (auto s = flush(); !s) {
          std::cerr << "campaignd suppress import: " << s.error() << "\n";
          return Exit::internal_error;
        }
    }
    if (auto s = flush(); !s) {
      std::cerr << "campaignd suppress import: " << s.error() << "\n";
      return Exit::internal_error;
    }
    std::cout << "suppressed " << added << " addresses, skipped " << bad << " rows\n";
    return Exit::ok;
  }
  std::cerr << kUsage;
  return Exit::user_error;
}

}  // namespace campaignd::cli
