// One function per subcommand. Each returns the process exit code: 0 ok, 1 user error,
// 2 internal error.
#pragma once

#include <memory>
#include <optional>

#include "daemon/cli/args.hpp"
#include "daemon/config/config.hpp"
#include "daemon/store/store.hpp"

namespace campaignd::cli {

enum Exit : int { ok = 0, user_error = 1, internal_error = 2 };

// Loads --config (default ./campaignd.yaml). `required`: a missing default file is an error;
// otherwise defaults are used. Prints the error and returns nullopt on failure.
std::optional<config::Config> load_config(const Args& args, bool required);

// The store (migrated) and a reading connection on it, for a command; prints the error and
// returns nullopt when the database cannot be opened.
struct OpenedStore {
  std::unique_ptr<store::Store> store;
  store::Database reader;
};
std::optional<OpenedStore> open_store(const config::Config& cfg);
void setup_logging(const std::string& level);

int cmd_run(const Args& args);
int cmd_validate(const Args& args);
int cmd_import(const Args& args);
int cmd_preview(const Args& args);
int cmd_report(const Args& args);
int cmd_status(const Args& args);
int cmd_suppress(const Args& args);
int cmd_forget(const Args& args);
int cmd_export(const Args& args);
int cmd_migrate_store(const Args& args);

}  // namespace campaignd::cli
