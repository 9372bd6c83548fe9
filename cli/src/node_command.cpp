// `annals node --config node.json`: one node of a cluster on a shared
// PostgreSQL database (annals::cluster, docs/cluster.md): the catalog's
// domains behind the same HTTP front as `annals serve`, commands for shards
// other nodes hold forwarded to them, until SIGINT/SIGTERM, when it hands
// its shards back and leaves.
#include "node_command.hpp"
#include "serve_command.hpp"

#include "annals/cluster/cluster_node.hpp"
#include "annals/http/config.hpp"
#include "annals/json.hpp"
#include "annals/json_parse.hpp"
#include "annals/persistence/store_error.hpp"
#include "annals/runtime.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/describe.hpp>
#include <boost/system/system_error.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace annals::cli {

namespace {

// The config file, as JSON (docs/cluster.md, "annals node"). Durations in ms.
struct NodeTlsFile {
  std::string certificate;
  std::string key;
  std::string ca;
  std::optional<std::string> passphrase;
};
BOOST_DESCRIBE_STRUCT(NodeTlsFile, (), (certificate, key, ca, passphrase))

struct NodeConfigFile {
  std::string node;
  std::optional<std::string> cluster;
  std::string store;
  std::string listen;
  std::optional<std::string> http;
  std::optional<std::vector<std::string>> domains;
  std::optional<int> shards;
  std::optional<std::int64_t> lease_ttl_ms;
  std::optional<std::int64_t> member_timeout_ms;
  std::optional<std::int64_t> heartbeat_ms;
  std::optional<std::int64_t> connection_timeout_ms;
  std::optional<std::int64_t> request_timeout_ms;
  std::optional<NodeTlsFile> tls;
  std::optional<std::string> auth;
  std::optional<std::string> log_level;
};
BOOST_DESCRIBE_STRUCT(NodeConfigFile, (),
                      (node, cluster, store, listen, http, domains, shards, lease_ttl_ms, member_timeout_ms,
                       heartbeat_ms, connection_timeout_ms, request_timeout_ms, tls, auth, log_level))

/// A config problem: the message to print (exit_usage).
struct ConfigProblem {
  std::string message;
};

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

HostPort host_port(const std::string& text, const char* field) {
  const auto colon = text.rfind(':');
  const std::string host = colon == std::string::npos ? "" : text.substr(0, colon);
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  int port = -1;
  try {
    std::size_t used = 0;
    port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
  }
  if (colon == std::string::npos || ec || port < 0 || port > 65535)
    throw ConfigProblem{std::string("field '") + field + "': expected \"IP:port\" (e.g. \"127.0.0.1:7101\"; port 0: any "
                        "free one), got \"" + text + "\""};
  return {host, static_cast<std::uint16_t>(port)};
}

std::chrono::milliseconds ms(const std::optional<std::int64_t>& v, std::int64_t fallback, const char* field,
                             std::int64_t min) {
  const std::int64_t x = v.value_or(fallback);
  if (x < min)
    throw ConfigProblem{std::string("field '") + field + "': must be at least " + std::to_string(min) + ", got "
                        + std::to_string(x)};
  return std::chrono::milliseconds(x);
}

// Paths in the config are relative to its own folder.
std::string beside(const std::filesystem::path& config, const std::string& path) {
  const std::filesystem::path p(path);
  return p.is_absolute() ? path : (config.parent_path() / p).lexically_normal().string();
}

struct NodeSetup {
  cluster::NodeOptions node;
  HostPort http;
  std::vector<std::string> domains;
  std::optional<http::AuthConfig> auth;
  std::string auth_file;
  LogLevel log_level = LogLevel::info;
};

NodeSetup read_config(const std::string& path, const scenarios::DomainCatalog& catalog) {
  std::ifstream in(path);
  if (!in) throw ConfigProblem{"cannot read --config " + path + ": " + std::strerror(errno)};
  std::stringstream text;
  text << in.rdbuf();
  json::error_code ec;
  const json::value doc = parse_json(text.str(), ec);
  if (ec) throw ConfigProblem{path + ": not JSON: " + ec.message()};
  auto file = decode<NodeConfigFile>(doc);
  if (!file) throw ConfigProblem{path + ": " + file.error().message};
  const auto& f = *file;
  NodeSetup s;
  try {
    if (f.node.empty()) throw ConfigProblem{"field 'node': must not be empty"};
    s.node.node = f.node;
    s.node.cluster = f.cluster.value_or("annals");
    if (f.store.rfind("postgresql://", 0) != 0 && f.store.rfind("postgres://", 0) != 0)
      throw ConfigProblem{"field 'store': a cluster shares one PostgreSQL database: expected a postgresql:// URL, "
                          "got \"" + f.store + "\""};
    s.node.store.url = f.store;
    const auto listen = host_port(f.listen, "listen");
    s.node.host = listen.host;
    s.node.port = listen.port;
    s.http = host_port(f.http.value_or("127.0.0.1:0"), "http");
    if (s.http.port != 0) s.node.http_address = s.http.host + ":" + std::to_string(s.http.port);
    s.domains = f.domains.value_or(catalog.names());
    if (const auto problem = catalog.unknown(s.domains); !problem.empty())
      throw ConfigProblem{"field 'domains': " + problem + "; see annals describe"};
    const int shards = f.shards.value_or(64);
    if (shards < 1 || shards > 100000)
      throw ConfigProblem{"field 'shards': expected 1 to 100000, got " + std::to_string(shards)};
    s.node.leases.shard_count = shards;
    s.node.leases.ttl = ms(f.lease_ttl_ms, 10000, "lease_ttl_ms", 300);
    s.node.member_timeout = ms(f.member_timeout_ms, 0, "member_timeout_ms", 0);
    s.node.heartbeat_interval = ms(f.heartbeat_ms, 500, "heartbeat_ms", 10);
    s.node.connection_timeout = ms(f.connection_timeout_ms, 2000, "connection_timeout_ms", 50);
    s.node.request_timeout = ms(f.request_timeout_ms, 5000, "request_timeout_ms", 10);
    if (f.tls)
      s.node.tls = cluster::TlsFiles{beside(path, f.tls->certificate), beside(path, f.tls->key), beside(path, f.tls->ca),
                                     f.tls->passphrase.value_or("")};
    if (f.auth) {
      s.auth_file = beside(path, *f.auth);
      try {
        s.auth = http::load_auth_config(s.auth_file);
      } catch (const std::exception& e) {
        throw ConfigProblem{std::string("field 'auth': ") + e.what()};
      }
    }
    if (f.log_level) {
      auto level = log_level_from_string(*f.log_level);
      if (!level || *level == LogLevel::off)
        throw ConfigProblem{"field 'log_level': expected debug, info, warn or error, got \"" + *f.log_level + "\""};
      s.log_level = *level;
    }
  } catch (const ConfigProblem& p) {
    throw ConfigProblem{path + ": " + p.message};
  }
  return s;
}

int run_node(Context& ctx, const std::string& config) {
  NodeSetup s;
  try {
    s = read_config(config, ctx.catalog);
  } catch (const ConfigProblem& p) {
    return ctx.fail(exit_usage, p.message);
  }
  const LogSink sink = text_sink(ctx.err);
  LogOptions log;
  log.level = s.log_level;
  log.sink = sink;
  s.node.logger = std::make_shared<Logger>(log);

  std::unique_ptr<cluster::ClusterNode> node;
  try {
    node = std::make_unique<cluster::ClusterNode>(s.node);
  } catch (const cluster::NodeStartError& e) {
    const bool store = e.cause() == cluster::NodeStartError::Cause::store_unavailable;
    return ctx.fail(store ? exit_store : exit_usage, std::string("node '") + s.node.node + "' cannot start: " + e.what());
  }

  http::ServiceOptions o;
  o.log_name = "annals node";
  o.address = s.http.host;
  o.port = s.http.port;
  o.auth = s.auth;
  RuntimeOptions base;
  base.log = log;
  o.runtime = node->runtime_options(base);
  const scenarios::DomainCatalog* catalog = &ctx.catalog;
  const auto domains = s.domains;
  o.install = [catalog, domains](Runtime& rt) { catalog->install(rt, domains); };
  o.domains = domain_summaries(ctx.catalog, domains);
  std::unique_ptr<http::Service> service;
  try {
    service = std::make_unique<http::Service>(std::move(o));
    service->start();
  } catch (const StoreError& e) {
    return ctx.fail(exit_store, s.node.store.url + ": " + e.what());
  } catch (const boost::system::system_error& e) {
    return ctx.fail(exit_usage, std::string("field 'http' (") + s.http.host + ":" + std::to_string(s.http.port)
                                  + "): " + e.what() + "; choose another address or port (0: any free port)");
  }
  node->serve(service->runtime());

  std::string names;
  for (const auto& d : domains) names += (names.empty() ? "" : ",") + d;
  ctx.err << "annals node: node '" << s.node.node << "' of cluster '" << s.node.cluster << "' listening on "
          << service->url() << ", nodes reach it on " << node->address() << ", domains " << names << ", "
          << node->coordinator().leases().held().size() << " of " << s.node.leases.shard_count << " shards, "
          << (s.node.tls ? "mutual TLS" : "plain TCP between nodes") << ", "
          << (s.auth ? "auth ON" : "running OPEN (no auth)") << "\n";
  if (!s.node.tls && !is_loopback(s.node.host))
    ctx.err << "annals node: WARNING: nodes reach this one on " << s.node.host
            << " (not loopback) without TLS: anyone who can reach it may send commands as another node; give "
               "\"tls\" in the config\n";
  ctx.err.flush();
  while (!ctx.stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ctx.err << "annals node: stopping: handing the shards back\n";
  ctx.err.flush();
  service->stop();  // no new commands; the ones in flight finish
  node->stop();     // hand the shards back, leave the cluster
  service.reset();
  return exit_ok;
}

} // namespace

void add_node_command(CLI::App& app, Context& ctx) {
  auto config = std::make_shared<std::string>();
  auto* sub = app.add_subcommand(
    "node", "Run one node of a cluster on a shared PostgreSQL database: the HTTP front of `serve`, commands "
            "forwarded to the node that holds their shard (docs/cluster.md)");
  sub->add_option("--config", *config, "the node's JSON config (node, store, listen, http, shards, tls, ...)")
    ->required();
  sub->callback([&ctx, config] { ctx.exit_code = run_node(ctx, *config); });
}

} // namespace annals::cli
