// `annals serve`: the domains of the catalog behind HTTP (annals::http,
// docs/http-service.md) until SIGINT/SIGTERM.
#include "serve_command.hpp"

#include "annals/http/service.hpp"
#include "annals/log.hpp"
#include "annals/persistence/memory_event_store.hpp"
#include "annals/runtime.hpp"
#include "annals/persistence/store_error.hpp"
#include "annals/scenarios/domain_catalog.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/system/system_error.hpp>

#include <chrono>
#include <mutex>
#include <thread>

namespace annals::cli {

bool is_loopback(const std::string& host) {
  boost::system::error_code ec;
  const auto a = boost::asio::ip::make_address(host, ec);
  return !ec && a.is_loopback();
}

LogSink text_sink(std::ostream& err) {
  auto mtx = std::make_shared<std::mutex>();
  return [mtx, err = &err](const LogRecord& r) {
    std::lock_guard<std::mutex> lock(*mtx);
    *err << Logger::format_text(r) << "\n";
    err->flush();
  };
}

std::vector<http::DomainSummary> domain_summaries(const scenarios::DomainCatalog& catalog,
                                                  const std::vector<std::string>& domains) {
  std::vector<http::DomainSummary> out;
  for (const auto& name : domains) {
    // What each domain registers, for GET /: installed alone on an empty in-memory store.
    RuntimeOptions probe;
    probe.store = memory_store();
    probe.audit = false;
    probe.log.level = LogLevel::off;
    Runtime rt(std::move(probe));
    catalog.find(name)->install(rt);
    http::DomainSummary d{name, catalog.find(name)->description, {}, {}};
    auto types = http::describe_types(rt);
    for (const auto& t : types["aggregates"].as_array()) d.aggregates.emplace_back(t.at("name").as_string());
    for (const auto& t : types["projections"].as_array()) d.projections.emplace_back(t.at("name").as_string());
    out.push_back(std::move(d));
  }
  return out;
}

namespace {

struct ServeArgs {
  std::string store;
  bool memory = false;
  std::vector<std::string> domains;
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string config;
  std::size_t threads = 2;
  double idle_timeout_s = 30;
  std::size_t max_connections = 1024;
  std::size_t max_waiting_requests = 256;
  std::size_t max_active_aggregates = 100000;
  std::string log_level = "warn";
};

int serve(Context& ctx, const ServeArgs& a) {
  if (const auto problem = ctx.catalog.unknown(a.domains); !problem.empty())
    return ctx.fail(exit_usage, problem + "; see annals describe");
  boost::system::error_code ec;
  boost::asio::ip::make_address(a.host, ec);
  if (ec) return ctx.fail(exit_usage, "--host '" + a.host + "' is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::1)");

  http::ServiceOptions o;
  o.log_name = "annals serve";
  o.address = a.host;
  o.port = a.port;
  o.io_threads = a.threads;
  o.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.idle_timeout_s * 1000));
  o.max_connections = a.max_connections;
  o.max_waiting_requests = a.max_waiting_requests;
  o.runtime.max_active_aggregates = a.max_active_aggregates;
  if (!a.config.empty()) {
    try {
      o.auth = http::load_auth_config(a.config);
    } catch (const std::exception& e) {
      return ctx.fail(exit_usage, std::string("bad --config: ") + e.what());
    }
  }
  StoreSelection sel;
  sel.path = a.store;
  sel.memory = a.memory;
  o.runtime.store = sel.provider();  // the one place a store is named (a path today; a URL with PostgreSQL)
  o.runtime.log.level = log_level_from_string(a.log_level).value_or(LogLevel::warn);
  o.runtime.log.sink = text_sink(ctx.err);
  const scenarios::DomainCatalog* catalog = &ctx.catalog;
  const std::vector<std::string> domains = a.domains.empty() ? ctx.catalog.names() : a.domains;
  o.install = [catalog, domains](Runtime& rt) { catalog->install(rt, domains); };
  o.domains = domain_summaries(ctx.catalog, domains);

  std::unique_ptr<http::Service> service;
  try {
    service = std::make_unique<http::Service>(std::move(o));
  } catch (const StoreError& e) {
    return ctx.fail(exit_store, sel.describe() + ": " + e.what());
  }
  try {
    service->start();
  } catch (const boost::system::system_error& e) {
    return ctx.fail(exit_usage, std::string(e.what()) + "; choose another --host or --port (0: any free port)");
  }
  std::string names;
  for (const auto& d : domains) names += (names.empty() ? "" : ",") + d;
  ctx.err << "annals serve: listening on " << service->url() << ", domains " << names << ", store " << sel.describe()
          << ", ";
  if (service->options().auth)
    ctx.err << "auth ON (" << service->options().auth->tokens.size() << " token(s) from " << a.config << ")\n";
  else
    ctx.err << "running OPEN: no --config given, every request is allowed\n";
  if (!service->options().auth && !is_loopback(a.host))
    ctx.err << "annals serve: WARNING: listening on " << a.host
            << " (not loopback) with no --config: ANYONE who can reach this address may send every command and "
               "read every query; give --config tokens.json or --host 127.0.0.1\n";
  ctx.err.flush();
  // main() turns SIGINT/SIGTERM into this flag; nothing else ends a server.
  while (!ctx.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ctx.err << "annals serve: stopping\n";
  ctx.err.flush();
  service->stop();
  return exit_ok;
}

} // namespace

void add_serve_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<ServeArgs>();
  auto* sub = app.add_subcommand("serve", "Serve the domains' commands, queries and events over HTTP (docs/http-service.md)");
  auto* store = sub->add_option("--store", args->store, "the event store: an SQLite file (created if missing)");
  sub->add_flag("--memory", args->memory, "keep events in memory only (lost at exit)")->excludes(store);
  sub->add_option("--domain", args->domains, "domain(s) to serve (default: every one in the catalog)");
  sub->add_option("--host", args->host, "address to listen on (0.0.0.0: every interface)")->capture_default_str();
  sub->add_option("--port", args->port, "TCP port (0: any free one; the URL is printed on stderr)")->capture_default_str();
  sub->add_option("--config", args->config, "JSON file with bearer tokens and their permissions (none: open)");
  sub->add_option("--threads", args->threads, "threads serving connections")->capture_default_str()->check(CLI::Range(1, 256));
  sub->add_option("--idle-timeout", args->idle_timeout_s, "seconds before an idle or slow connection is closed")
    ->capture_default_str()
    ->check(CLI::Range(0.1, 3600.0));
  sub->add_option("--max-connections", args->max_connections,
                  "open connections (also event subscriptions); beyond it a new one is answered 503 and closed")
    ->capture_default_str()
    ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  sub->add_option("--max-waiting-requests", args->max_waiting_requests,
                  "requests waiting for the runtime at once; beyond it 503")
    ->capture_default_str()
    ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  sub->add_option("--max-active-aggregates", args->max_active_aggregates,
                  "live aggregates in memory; beyond it idle ones are passivated (0: no bound)")
    ->capture_default_str()
    ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  sub->add_option("--log-level", args->log_level, "runtime log records shown on stderr")
    ->capture_default_str()
    ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  sub->callback([&ctx, args, store] {
    ServeArgs a = *args;
    if (!a.memory && store->count() == 0) a.store = embedded_store_file;
    ctx.exit_code = serve(ctx, a);
  });
}

} // namespace annals::cli
