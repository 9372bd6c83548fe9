#pragma once
// The `annals` command line: `run SCENARIO.json` and the store tools
// (events, streams, projections, dead-letters, rebuild, reconcile).
// run_cli is the whole program minus main(): an embedding service can build
// its own `annals` against its own domains (see docs/scenarios.md).

#include "annals/scenarios/domain_catalog.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace annals::cli {

/// Exit codes of every subcommand.
enum ExitCode : int {
  exit_ok = 0,
  exit_failed = 1,       ///< an expectation did not hold, a reconcile differs, a retry still fails
  exit_usage = 2,        ///< bad arguments, a malformed scenario, an unknown projection
  exit_store = 3,        ///< the store cannot be opened (not a database, locked, newer schema, ...) or refused a write
  exit_parked = 4,       ///< a reconcile found the copies equal except for parked events, which both lack
  exit_interrupted = 130 ///< stopped by SIGINT/SIGTERM (what was acknowledged stays committed)
};

/// Runs one command line (args[0] is the program name). Output goes to
/// `out`, diagnostics (a one-line reason on failure) to `err`.
int run_cli(const std::vector<std::string>& args, const scenarios::DomainCatalog& catalog, std::ostream& out,
            std::ostream& err);

/// main() for a catalog: also makes Ctrl-C stop a running scenario cleanly.
int main(int argc, char** argv, const scenarios::DomainCatalog& catalog);

} // namespace annals::cli
