#pragma once
// `annals serve [--store S] [--domain D...] [--host H] [--port P] [--config tokens.json]`:
// the catalog's domains over HTTP (annals::http, docs/http-service.md).

#include "context.hpp"

namespace annals::cli {

void add_serve_command(CLI::App& app, Context& ctx);

} // namespace annals::cli
