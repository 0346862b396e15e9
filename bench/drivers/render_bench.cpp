// bench (f): personalised messages rendered per second on one core. Loads a campaign file the
// way the scheduler does (templates parsed once), reads contacts from a campaignd database, then
// calls MessageComposer::compose (context, Mustache, MIME, headers: what a send worker does
// before the transport) on one thread until the time or count limit.
//
//   render_bench DB CAMPAIGN_FILE TEMPLATES_DIR RULES_DIR SECONDS MAX_MESSAGES
// prints `messages N wall_s W cpu_s C avg_bytes B` on stdout; exit 1 on any error.
#include <time.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "daemon/campaigns/campaign_loader.hpp"
#include "daemon/delivery/message_composer.hpp"
#include "daemon/segments/rule_book.hpp"
#include "daemon/store/contacts.hpp"
#include "daemon/store/database.hpp"
#include "daemon/tracking/token.hpp"
#include "daemon/tracking/tracking_links.hpp"
#include "daemon/util/clock.hpp"

namespace {

using namespace campaignd;

constexpr int kContacts = 5000;  // distinct contacts cycled through, so contexts differ

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

int run(const std::string& db_path, const std::string& campaign_file, const std::string& templates_dir,
        const std::string& rules_dir, double seconds, long max_messages) {
  util::SystemClock clock;
  std::vector<PlacedError> rule_errors;
  auto rules = segments::RuleBook::load(rules_dir, rule_errors);
  if (!rules) {
    std::cerr << "render_bench: " << rules.error() << "\n";
    return 1;
  }
  auto loaded = campaigns::load_campaign(campaign_file, {templates_dir, rules_dir}, *rules, clock.now());
  if (!loaded || !*loaded) {
    std::cerr << "render_bench: cannot load " << campaign_file << "\n";
    if (!loaded)
      for (const auto& e : loaded.error()) std::cerr << e.to_string() << "\n";
    return 1;
  }
  const campaigns::CheckedCampaign& campaign = **loaded;

  auto db = store::Database::open(db_path, store::OpenMode::read_only);
  if (!db) {
    std::cerr << "render_bench: " << db.error() << "\n";
    return 1;
  }
  std::vector<store::Contact> contacts;
  store::ContactRepository repo(*db);
  for (std::int64_t id = 1; id <= kContacts; ++id) {
    auto c = repo.find_by_id(id);
    if (!c) {
      std::cerr << "render_bench: " << c.error() << "\n";
      return 1;
    }
    if (*c) contacts.push_back(std::move(**c));
  }
  if (contacts.empty()) {
    std::cerr << "render_bench: no contacts in " << db_path << "\n";
    return 1;
  }

  tracking::TokenSigner signer("bench-token-key-0123456789abcdef0123456789abcdef");
  tracking::TrackingLinks links("http://127.0.0.1:8025", signer);
  delivery::MessageComposer composer("http://127.0.0.1:8025", signer, &links, nullptr);
  long messages = 0;
  std::size_t bytes = 0;
  double cpu_start = thread_cpu_seconds();
  auto start = std::chrono::steady_clock::now();
  double wall = 0;
  while (messages < max_messages && wall < seconds) {
    const auto& contact = contacts[static_cast<std::size_t>(messages) % contacts.size()];
    auto message = composer.compose(campaign.campaign, campaign.templates, contact, messages + 1, clock.now());
    if (!message) {
      std::cerr << "render_bench: " << message.error() << "\n";
      return 1;
    }
    bytes += message->bytes.size();
    ++messages;
    if (messages % 256 == 0) wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu = thread_cpu_seconds() - cpu_start;
  std::cout << "messages " << messages << " wall_s " << wall << " cpu_s " << cpu << " avg_bytes "
            << (messages ? bytes / static_cast<std::size_t>(messages) : 0) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::cerr << "usage: render_bench DB CAMPAIGN_FILE TEMPLATES_DIR RULES_DIR SECONDS MAX_MESSAGES\n";
    return 1;
  }
  return run(argv[1], argv[2], argv[3], argv[4], std::atof(argv[5]), std::atol(argv[6]));
}
