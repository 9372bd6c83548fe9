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

/// The store a subcommand works on: --store PATH (default `default_path`,
/// under the working directory) or --memory, and --domain NAME (repeatable;
/// default: the domains that use the store, see tools::tool_domains).
struct StoreSelection {
  std::string path;
  bool memory = false;
  std::vector<std::string> domains;

  std::shared_ptr<EventStoreProvider> provider() const;
  /// "sqlite:annals.db" or "memory".
  std::string describe() const;
};
void add_store_options(CLI::App& sub, StoreSelection& store, const std::string& default_path);

/// run_cli with the flag that main() sets on SIGINT/SIGTERM.
int run_cli(const std::vector<std::string>& args, const scenarios::DomainCatalog& catalog, std::ostream& out,
            std::ostream& err, const std::atomic<bool>* interrupted);

/// Subcommands, each in its own file.
void add_run_command(CLI::App& app, Context& ctx);   // run_command.cpp
void add_store_tools(CLI::App& app, Context& ctx);   // store_tools.cpp: events, streams, projections,
                                                     // dead-letters, rebuild, reconcile

} // namespace annals::cli
