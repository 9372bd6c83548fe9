#pragma once
// `annals describe [--domain D] [--json]`: the reference of each domain of
// the catalog — commands with their data, events, rejection codes,
// projections with their queries' arguments and answers — generated from
// the registered types, so it cannot go stale (docs/scenarios.md holds its
// output for the example domains, checked by the suite).

#include "context.hpp"

namespace annals::cli {

void add_describe_command(CLI::App& app, Context& ctx);

} // namespace annals::cli
