// Measures the write path end to end: commands through the runtime, on the
// in-memory store and on SQLite (normal durability), sequential and from
// several threads. Prints its figures; asserts nothing.
//   annals_bench_commands [commands-per-run]

#include "bench_support.hpp"

#include <annals/persistence/memory_event_store.hpp>
#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <future>
#include <string>
#include <thread>
#include <vector>

namespace {

using clk = std::chrono::steady_clock;

using annals::bench::cmd;
using annals::bench::pct;

// `threads` callers, each on its own aggregate, `n` commands in all.
void run(const char* store_name, std::shared_ptr<annals::EventStoreProvider> store, int threads, int n) {
  annals::RuntimeOptions o;
  o.store = std::move(store);
  annals::Runtime rt(o);
  rt.register_aggregate(bank::account_type());
  for (int t = 0; t < threads; ++t) rt.execute(cmd("b-" + std::to_string(t), "open", {{"owner", "bench"}}));
  std::vector<std::vector<double>> lat(static_cast<std::size_t>(threads));
  std::atomic<int> failures{0};
  auto start = clk::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      const std::string id = "b-" + std::to_string(t);
      auto& mine = lat[static_cast<std::size_t>(t)];
      for (int i = 0; i < n / threads; ++i) {
        auto t0 = clk::now();
        if (!rt.execute(cmd(id, "deposit", {{"amount", 1}})).accepted()) ++failures;
        mine.push_back(std::chrono::duration<double, std::micro>(clk::now() - t0).count());
      }
    });
  for (auto& th : pool) th.join();
  const double secs = std::chrono::duration<double>(clk::now() - start).count();
  std::vector<double> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::printf("%-8s threads=%-2d commands=%-6zu %9.0f cmd/s   latency p50 %7.1f us  p99 %8.1f us  failures %d\n",
              store_name, threads, all.size(), static_cast<double>(all.size()) / secs, pct(all, 0.50),
              pct(all, 0.99), failures.load());
}

} // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::stoi(argv[1]) : 4000;
  const auto dir = std::filesystem::temp_directory_path() / ("annals-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::printf("annals command throughput (%d commands per run, %u hardware threads)\n", n,
              std::thread::hardware_concurrency());
  for (int threads : {1, 8, 32}) run("memory", annals::memory_store(), threads, n);
  int i = 0;
  for (int threads : {1, 8, 32})
    run("sqlite", annals::sqlite_store({(dir / ("bench-" + std::to_string(i++) + ".db")).string()}), threads, n);
  std::filesystem::remove_all(dir);
}
