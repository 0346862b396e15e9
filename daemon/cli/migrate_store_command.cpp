// `campaignd migrate-store --to postgresql://… [--from sqlite://PATH]`: copies the store named in
// the config (or --from) into an empty PostgreSQL database, for moving to several nodes.
#include <iostream>

#include "daemon/cli/commands.hpp"
#include "daemon/store/pg/pg_connection.hpp"
#include "daemon/store/store_copy.hpp"

namespace campaignd::cli {

int cmd_migrate_store(const Args& args) {
  auto to = args.option("--to");
  if (!to || !args.positional.empty()) {
    std::cerr << "usage: campaignd migrate-store --to postgresql://… [--from sqlite://PATH]\n";
    return Exit::user_error;
  }
  auto cfg = load_config(args, false);
  if (!cfg) return Exit::user_error;
  std::string from = args.option("--from").value_or(cfg->store_target());
  if (from == *to) {
    std::cerr << "campaignd migrate-store: --to names the store it would copy from\n";
    return Exit::user_error;
  }
  auto source = store::Database::open(from, store::OpenMode::read_write);
  if (!source) {
    std::cerr << "campaignd migrate-store: " << source.error() << "\n";
    return Exit::internal_error;
  }
  auto target = store::Database::open(*to);
  if (!target) {
    std::cerr << "campaignd migrate-store: " << target.error() << "\n";
    return Exit::internal_error;
  }
  std::cerr << "copying " << source->describe() << " into " << target->describe() << "\n";
  auto copied = store::copy_store(*source, *target, [](const std::string& table, std::int64_t rows) {
    std::cerr << "  " << table << ": " << rows << " rows\n";
  });
  if (!copied) {
    std::cerr << "campaignd migrate-store: " << copied.error() << " (the target was left unchanged)\n";
    return Exit::internal_error;
  }
  std::int64_t total = 0;
  for (const auto& t : *copied) total += t.rows;
  std::cout << "copied " << total << " rows in " << copied->size() << " tables into " << target->describe()
            << "\nset store.url to it (on every node) and start campaignd\n";
  return Exit::ok;
}

}  // namespace campaignd::cli
