// A second process for the runtime tests:
//   annals_test_writer crash <db> <id>           deposit 1 forever, print "ACK <version> <position>" after each
//                                                 acknowledged command (the parent kills it with SIGKILL)
//   annals_test_writer deposit <db> <id> <n>      n deposits of 1 through its own runtime, then exit 0
//   annals_test_writer read-only <db> <id>        (as nobody when root) open a read-only store: reads work,
//                                                 a deposit fails with store_unavailable naming "read-only"
//   annals_test_writer retry <db> behind|past     the recorder projection "rec" (snapshots every 1000 events
//                                                 when behind, every event when past) retries the event
//                                                 parked at position 3: behind = from a projector restarted
//                                                 at position 0 and held there (an hour per event), past =
//                                                 once caught up. Prints "READY" before the retry and
//                                                 "RETRIED ok|<error>" after it, then waits to be killed.

#include "../runtime/test_projections.hpp"
#include "bank_commands.hpp"
#include "wait_until.hpp"

#include <annals/fault_injector.hpp>
#include <annals/persistence/sqlite_event_store.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include <chrono>
#include <cstdio>
#include <thread>
#include <iostream>
#include <string>
#include <unistd.h>

namespace {

using annals::test::deposit;

std::unique_ptr<annals::Runtime> make_runtime(const std::string& db) {
  annals::RuntimeOptions opts;
  opts.store = annals::sqlite_store({db});
  auto rt = std::make_unique<annals::Runtime>(opts);
  rt->register_aggregate(bank::account_type());
  return rt;
}

int crash(const std::string& db, const std::string& id) {
  auto rt = make_runtime(db);
  for (;;) {
    auto r = rt->execute(deposit(id, 1));
    if (!r.accepted()) {
      std::cerr << "unexpected: " << annals::json::serialize(r.to_json()) << "\n";
      return 2;
    }
    std::printf("ACK %lld %lld\n", static_cast<long long>(r.version), static_cast<long long>(r.position));
    std::fflush(stdout);
  }
}

int deposit_n(const std::string& db, const std::string& id, int n) {
  auto rt = make_runtime(db);
  for (int i = 0; i < n; ++i) {
    auto r = rt->execute(deposit(id, 1));
    if (!r.accepted()) {
      std::cerr << annals::json::serialize(r.to_json()) << "\n";
      return 2;
    }
  }
  return 0;
}

int read_only(const std::string& db, const std::string& id) {
  if (::geteuid() == 0 && ::setuid(65534) != 0) {
    std::perror("setuid");
    return 3;
  }
  auto rt = make_runtime(db);
  auto state = rt->inspect("account", id);
  if (!state) {
    std::cerr << "inspect failed: " << state.error().message << "\n";
    return 4;
  }
  auto r = rt->execute(deposit(id, 5));
  std::cout << annals::json::serialize(r.to_json()) << "\n";
  if (!r.failed() || r.code() != annals::errc::store_unavailable) return 5;
  if (r.error->message.find("read-only") == std::string::npos) return 6;
  return 0;
}

int retry(const std::string& db, const std::string& where) {
  const bool behind = where == "behind";
  if (!behind && where != "past") return 64;
  auto rt = make_runtime(db);
  rt->register_projection(annals::test::recorder("rec", {}, behind ? 1000 : 1));
  auto status = [&] { return rt->projection_status("rec"); };
  if (!annals::test::wait_until([&] {
        auto st = status();
        return st && st->running && st->checkpoint == rt->head_position();
      }))
    return 3;
  if (behind) {
    annals::FaultInjector faults(*rt);
    if (faults.delay_projection("rec", std::chrono::hours(1))) return 5;
    faults.crash_projection("rec");
    if (!annals::test::wait_until([&] {
          auto st = status();
          return st && st->running && st->restarts == 1 && st->checkpoint == 0;
        }))
      return 4;
  }
  std::printf("READY\n");
  std::fflush(stdout);
  auto error = rt->retry_dead_letter("rec", 3);
  std::printf("RETRIED %s\n", error ? error->message.c_str() : "ok");
  std::fflush(stdout);
  for (;;) std::this_thread::sleep_for(std::chrono::hours(1));  // the parent kills it
}

} // namespace

int main(int argc, char** argv) {
  try {
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "crash" && argc == 4) return crash(argv[2], argv[3]);
    if (mode == "deposit" && argc == 5) return deposit_n(argv[2], argv[3], std::stoi(argv[4]));
    if (mode == "read-only" && argc == 4) return read_only(argv[2], argv[3]);
    if (mode == "retry" && argc == 4) return retry(argv[2], argv[3]);
    std::cerr << "usage: annals_test_writer crash|deposit|read-only <db> <id> [n] | retry <db> behind|past\n";
    return 64;
  } catch (const std::exception& e) {
    std::cerr << "annals_test_writer: " << e.what() << "\n";
    return 1;
  }
}
