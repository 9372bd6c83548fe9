#pragma once
// What every subcommand gets: the catalog, the output streams, where to put
// its exit code, and the interrupt flag that main() sets on SIGINT/SIGTERM.

#include "annals/cli/cli.hpp"
#include "annals/persistence/event_store.hpp"

#include <atomic>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace annals::cli {

struct Context {
  const scenarios::DomainCatalog& catalog;
  std::ostream& out;
  std::ostream& err;
  int exit_code = exit_ok;
  /// Long-running work (a scenario, a rebuild) polls this and stops cleanly.
  const std::atomic<bool>* interrupted = nullptr;

  bool stop_requested() const { return interrupted && interrupted->load(); }
  /// Writes "annals: <message>" to err as one line (line breaks become
  /// spaces) and returns `code`.
  int fail(int code, const std::string& message);
};

/// `text` with line breaks and tabs turned into spaces: a failure's reason is
/// one line, and so is each row of a text table.
std::string one_line(std::string text);

/// The store a subcommand works on: --store PATH (or a postgresql:// URL) or --memory, and --domain
/// NAME (repeatable; default: the domains that use the store, see
/// tools::tool_domains). Without either, the one store in the working
/// directory (choose_default_store).
struct StoreSelection {
  std::string path;
  bool memory = false;
  std::vector<std::string> domains;

  std::shared_ptr<EventStoreProvider> provider() const;
  /// "sqlite:annals.db", "postgresql://user@host:port/db" or "memory".
  std::string describe() const;
  /// --store names a PostgreSQL database.
  bool postgres() const;
};
/// `embedded_default`: the file an embedded runtime writes by default
/// (annals.db), a store to find besides the annals-*.db of `annals run`.
void add_store_options(CLI::App& sub, StoreSelection& store, const std::string& embedded_default);

// default_store.cpp: one rule for `annals run` and the store tools.
/// What an embedded runtime writes by default (RuntimeOptions::store).
inline const std::string embedded_store_file = "annals.db";
/// The file `annals run` writes without --store: "annals-<scenario name>.db".
std::string scenario_store_file(const std::string& scenario_name);
/// The stores in the working directory, sorted: every regular file
/// annals-*.db, and `embedded_default` if there is one.
std::vector<std::string> stores_in_working_directory(const std::string& embedded_default);
/// Sets store.path to the one store in the working directory; throws
/// tools::ToolError when there is none (exit_store: what `annals run` would
/// write, and --store) or several (exit_usage: their names, and --store).
void choose_default_store(StoreSelection& store, const std::string& embedded_default);

/// run_cli with the flag that main() sets on SIGINT/SIGTERM.
int run_cli(const std::vector<std::string>& args, const scenarios::DomainCatalog& catalog, std::ostream& out,
            std::ostream& err, const std::atomic<bool>* interrupted);

/// Subcommands, each in its own file.
void add_run_command(CLI::App& app, Context& ctx);   // run_command.cpp
void add_store_tools(CLI::App& app, Context& ctx);   // store_tools.cpp: events, streams, projections,
                                                     // dead-letters, rebuild, reconcile

} // namespace annals::cli
