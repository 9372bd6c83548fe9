// W1-like load on the two durable stores, in one run: bank deposits from
// many blocking callers over many accounts, on SQLite (Durability::full:
// every commit fsynced) and on PostgreSQL (fsync and synchronous_commit on,
// bench/postgres-server.sh). Prints commands/s, events per transaction and
// the callers' latency p50/p99; asserts nothing.
//   annals_bench_stores POSTGRES_URL [commands] [callers] [accounts]
// POSTGRES_URL names a server (its database is ignored): the benchmark
// creates and drops the database annals_bench on it.

#include "bench_support.hpp"

#include <annals/persistence/postgres_event_store.hpp>
#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/persistence/store_url.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

using annals::bench::cmd;
using annals::bench::pct;

// Events per transaction: each append batch is one transaction and its
// events share one commit timestamp, so distinct timestamps count them.
double events_per_transaction(annals::EventStoreProvider& store, std::int64_t from) {
  auto log = store.connect();
  std::set<std::int64_t> commits;
  std::int64_t events = 0;
  for (auto pos = from;;) {
    auto batch = log->read_all(pos, 5000);
    if (batch.empty()) break;
    for (const auto& e : batch) commits.insert(e.metadata.timestamp_us);
    events += static_cast<std::int64_t>(batch.size());
    pos = batch.back().position + 1;
  }
  return commits.empty() ? 0 : static_cast<double>(events) / static_cast<double>(commits.size());
}

void run(const char* name, std::shared_ptr<annals::EventStoreProvider> store, int n, int callers, int accounts) {
  annals::RuntimeOptions o;
  o.store = store;
  o.command_timeout = std::chrono::seconds(60);
  o.log.level = annals::LogLevel::warn;
  annals::Runtime rt(o);
  rt.register_aggregate(bank::account_type());
  for (int a = 0; a < accounts; ++a) rt.execute(cmd("w1-" + std::to_string(a), "open", {{"owner", "bench"}}));
  const std::int64_t first = store->connect()->head_position() + 1;
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(callers));
  std::atomic<int> failures{0};
  const auto start = clk::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < callers; ++t)
    pool.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t) * 7919u + 1u);
      std::uniform_int_distribution<int> account(0, accounts - 1);
      auto& mine = lat[static_cast<std::size_t>(t)];
      for (int i = 0; i < n / callers; ++i) {
        const auto t0 = clk::now();
        if (!rt.execute(cmd("w1-" + std::to_string(account(rng)), "deposit", {{"amount", 1}})).accepted()) ++failures;
        mine.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
      }
    });
  for (auto& th : pool) th.join();
  const double secs = std::chrono::duration<double>(clk::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::printf("%-10s callers=%-3d accounts=%-5d commands=%-6zu %7.0f cmd/s  %6.1f events/transaction  "
              "p50 %6.2f ms  p99 %7.2f ms  failures %d\n",
              name, callers, accounts, all.size(), static_cast<double>(all.size()) / secs,
              events_per_transaction(*store, first), pct(all, 0.50), pct(all, 0.99), failures.load());
  std::fflush(stdout);
}

// The server part of a postgresql:// URL with the database annals_bench.
std::string bench_database(const std::string& server_url) {
  const auto slash = server_url.find('/', server_url.find("://") + 3);
  return server_url.substr(0, slash) + "/annals_bench";
}

} // namespace

int main(int argc, char** argv) {
  if (argc < 2 || annals::store_kind(argv[1]) != annals::StoreKind::postgres) {
    std::fprintf(stderr,
                 "usage: annals_bench_stores POSTGRES_URL [commands] [callers] [accounts]\n"
                 "  start a durable local server first: url=$(bash bench/postgres-server.sh start /tmp/annals-pg 55432)\n");
    return 2;
  }
  const std::string server = argv[1];
  const int n = argc > 2 ? std::stoi(argv[2]) : 20000;
  const int callers = argc > 3 ? std::stoi(argv[3]) : 64;
  const int accounts = argc > 4 ? std::stoi(argv[4]) : 1000;
  std::printf("annals store comparison, W1-like: %d deposits from %d callers over %d accounts (%u hardware threads)\n",
              n, callers, accounts, std::thread::hardware_concurrency());
  const auto dir = std::filesystem::temp_directory_path() / ("annals-bench-stores-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  annals::SqliteStoreOptions sqlite;
  sqlite.path = (dir / "w1.db").string();
  sqlite.durability = annals::Durability::full;
  run("sqlite", annals::sqlite_store(sqlite), n, callers, accounts);
  std::filesystem::remove_all(dir);

  const std::string psql = "psql -q -v ON_ERROR_STOP=1 '" + server + "' -c 'SET client_min_messages = warning' -c ";
  if (std::system((psql + "'DROP DATABASE IF EXISTS annals_bench' -c 'CREATE DATABASE annals_bench'").c_str()) != 0) {
    std::fprintf(stderr, "annals_bench_stores: cannot create the database annals_bench on %s (psql failed)\n",
                 server.c_str());
    return 1;
  }
  run("postgresql", annals::open_store_url(bench_database(server)), n, callers, accounts);
  (void)std::system((psql + "'DROP DATABASE IF EXISTS annals_bench'").c_str());
}
