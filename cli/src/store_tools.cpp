// The store tools: events, streams, projections, dead-letters, rebuild,
// reconcile. (Being written: see docs/scenarios.md for what they will do.)
#include "context.hpp"

#include <CLI/CLI.hpp>

namespace annals::cli {

void add_store_tools(CLI::App&, Context&) {}

} // namespace annals::cli
