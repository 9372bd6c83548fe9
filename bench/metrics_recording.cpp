// The cost of recording a command's outcome and latency, as the runtime does
// on every command (one counter increment + one histogram observation on
// handles cached at registration). Prints nanoseconds per record.
//   annals_bench_metrics [records-per-thread]

#include "annals/actors/instruments.hpp"

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const long n = argc > 1 ? std::stol(argv[1]) : 5'000'000;
  annals::actors::Instruments instruments;
  const auto handles = instruments.command("account", "deposit");
  const auto accepted = annals::CommandResult::accept({"account", "acc-1"}, 1, 1, {});
  const auto rejected = annals::CommandResult::reject({"account", "acc-1"}, {"insufficient_funds", "no"});

  for (int threads : {1, 2, 4}) {
    auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        for (long i = 0; i < n; ++i) {
          // Latencies spread over the buckets, outcomes mixed as on a real path.
          const double secs = 1e-5 * static_cast<double>((i * 7 + t) % 5000);
          handles.record(i % 10 == 0 ? rejected : accepted, secs);
        }
      });
    for (auto& th : pool) th.join();
    const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    std::printf("record(outcome, latency): %d thread(s) x %ld records: %6.1f ns per record (wall / records per thread)\n",
                threads, n, ns / static_cast<double>(n));
  }
}
