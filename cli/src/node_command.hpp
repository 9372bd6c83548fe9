#pragma once
// `annals node --config node.json`: one node of a cluster on a shared
// PostgreSQL database (docs/cluster.md).

#include "context.hpp"

namespace annals::cli {

void add_node_command(CLI::App& app, Context& ctx);

} // namespace annals::cli
