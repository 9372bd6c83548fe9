// `annals run SCENARIO.json`: parses the scenario, runs it, prints the step
// log and the report.
#include "context.hpp"

#include <CLI/CLI.hpp>

namespace annals::cli {

void add_run_command(CLI::App&, Context&) {}

} // namespace annals::cli
