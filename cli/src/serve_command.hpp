#pragma once
// `annals serve [--store S] [--domain D...] [--host H] [--port P] [--config tokens.json]`:
// the catalog's domains over HTTP (annals::http, docs/http-service.md).

#include "context.hpp"

#include "annals/http/service.hpp"
#include "annals/log.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace annals::cli {

void add_serve_command(CLI::App& app, Context& ctx);

// Shared with `annals node` (node_command.cpp), which serves the same front.
/// Whether `host` is a loopback address (127.0.0.0/8, ::1); a name is not.
bool is_loopback(const std::string& host);
/// Log records as text lines on `err`, one writer at a time.
LogSink text_sink(std::ostream& err);
/// What each domain registers, for GET /.
std::vector<http::DomainSummary> domain_summaries(const scenarios::DomainCatalog& catalog,
                                                  const std::vector<std::string>& domains);

} // namespace annals::cli
