// bank_service: the bank example over HTTP (docs/http-service.md), a thin
// main over annals::http (`annals serve --domain bank` serves the same routes;
// this one keeps the bank's snapshot options for the crash driver).
//   bank_service --port 8080 --store bank.db [--config auth.json] [--threads 2]
//                [--durability normal|full] [--snapshot-every 100] [--projection-snapshot-every 0]
//                [--max-connections 1024] [--max-waiting-requests 256] [--max-active-aggregates 100000]
// Exit codes: 0 after SIGINT/SIGTERM, 1 the store or the port cannot be
// used, 2 bad command line or config file.

#include <annals/http/service.hpp>
#include <bank/account.hpp>
#include <bank/projections.hpp>

#include <annals/persistence/memory_event_store.hpp>
#include <annals/persistence/sqlite_event_store.hpp>

#include <CLI/CLI.hpp>

#include <csignal>
#include <iostream>
#include <pthread.h>

int main(int argc, char** argv) {
  CLI::App app{"annals bank example as an HTTP service (see docs/http-service.md)", "bank_service"};
  std::uint16_t port = 8080;
  std::string store = "bank.db";
  bool memory = false;
  std::string config;
  std::size_t threads = 2;
  double idle_timeout_s = 30;
  annals::http::ServiceOptions opts;
  opts.log_name = "bank_service";
  app.add_option("--port", port, "TCP port on 127.0.0.1 (0: any free port)")->capture_default_str();
  auto* store_opt = app.add_option("--store", store, "SQLite file of the event store")->capture_default_str();
  app.add_flag("--memory", memory, "keep events in memory only (lost at exit)")->excludes(store_opt);
  app.add_option("--config", config, "JSON file with bearer tokens and their permissions (none: open)");
  app.add_option("--threads", threads, "threads serving connections")->capture_default_str()->check(CLI::Range(1, 256));
  app.add_option("--idle-timeout", idle_timeout_s, "seconds before an idle or slow connection is closed")
    ->capture_default_str()
    ->check(CLI::Range(0.1, 3600.0));
  std::string durability = "normal";
  int snapshot_every = 100;
  int projection_snapshot_every = 0;
  app.add_option("--durability", durability, "normal (synchronous=NORMAL) or full (synchronous=FULL: every commit fsynced)")
    ->capture_default_str()
    ->check(CLI::IsMember({"normal", "full"}));
  app.add_option("--snapshot-every", snapshot_every, "account snapshot every N events (0: none)")
    ->capture_default_str()
    ->check(CLI::Range(0, 1000000));
  app.add_option("--projection-snapshot-every", projection_snapshot_every,
                 "read-model snapshot every N events (0: none)")
    ->capture_default_str()
    ->check(CLI::Range(0, 1000000));
  app.add_option("--max-connections", opts.max_connections,
                 "open connections; beyond it a new one is answered 503 and closed")
    ->capture_default_str()
    ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  app.add_option("--max-active-aggregates", opts.runtime.max_active_aggregates,
                 "live accounts in memory; beyond it the least recently used idle ones are passivated (0: no bound)")
    ->capture_default_str()
    ->check(CLI::Range(std::size_t{0}, std::size_t{1} << 30));
  app.add_option("--max-waiting-requests", opts.max_waiting_requests,
                 "requests waiting for the runtime at once (commands, queries, health checks); beyond it 503")
    ->capture_default_str()
    ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  opts.port = port;
  opts.io_threads = threads;
  opts.idle_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(idle_timeout_s * 1000));
  if (!config.empty()) {
    try {
      opts.auth = annals::http::load_auth_config(config);
    } catch (const std::exception& e) {
      std::cerr << "bank_service: bad --config: " << e.what() << "\n";
      return 2;
    }
  }
  opts.install = [snapshot_every, projection_snapshot_every](annals::Runtime& rt) {
    rt.register_aggregate(bank::account_type(snapshot_every));
    rt.register_projection(bank::balances_projection(projection_snapshot_every));
    rt.register_projection(bank::daily_totals_projection(projection_snapshot_every));
  };
  annals::SqliteStoreOptions sqlite;
  sqlite.path = store;
  sqlite.durability = durability == "full" ? annals::Durability::full : annals::Durability::normal;
  opts.runtime.store = memory ? annals::memory_store() : annals::sqlite_store(sqlite);

  // SIGINT/SIGTERM are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  try {
    annals::http::Service service(std::move(opts));
    service.start();
    const auto& o = service.options();
    std::cerr << "bank_service: listening on " << service.url() << ", store " << o.runtime.store->describe() << ", ";
    if (o.auth)
      std::cerr << "auth ON (" << o.auth->tokens.size() << " token(s) from " << config << ")\n";
    else
      std::cerr << "running OPEN: no --config given, every request is allowed\n";
    int sig = 0;
    sigwait(&signals, &sig);
    std::cerr << "bank_service: " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ", stopping\n";
    service.stop();
  } catch (const std::exception& e) {
    std::cerr << "bank_service: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
