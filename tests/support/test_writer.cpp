// A second process for the runtime tests (<db>: an SQLite file or a postgresql:// URL):
//   annals_test_writer crash <db> <id>           deposit 1 forever, print "ACK <version> <position>" after each
//                                                 acknowledged command (a process that holds the store open)
//   annals_test_writer deposit <db> <id> <n>      n deposits of 1 through its own runtime, then exit 0
//   annals_test_writer acks <db> <round> <threads> <accounts>
//                                                 deposits of 1 forever from <threads> threads, each with 8
//                                                 commands in flight on the accounts acc-0..acc-<accounts-1>
//                                                 (command id "r<round>-t<thread>-<n>"); prints
//                                                 "ACK <account> <command id> <version> <position>" and flushes as
//                                                 each acknowledgement arrives (the parent kills it with SIGKILL)
//   annals_test_writer race <db> <start file> <tag> <accounts> <n>
//                                                 prints READY, waits for <start file> to exist, then one thread
//                                                 per account race-0..race-<accounts-1> sends n deposits of 1 in
//                                                 order (16 in flight, command id "<tag>-<account>-<seq>"); prints
//                                                 "ACK <command id> <version> <position>", "FAIL <command id> <code>"
//                                                 (definitely not appended) or "UNKNOWN <command id> <code>" per command in order, then
//                                                 "STATS lock_waits=<n> conflicts=<n>"
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
#include <annals/persistence/store_url.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include <chrono>
#include <cstdio>
#include <deque>
#include <future>
#include <iostream>
#include <mutex>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {

using annals::test::deposit;

std::unique_ptr<annals::Runtime> make_runtime(const std::string& db) {
  annals::RuntimeOptions opts;
  opts.store = annals::open_store_url(db);  // an SQLite file or a postgresql:// URL
  // Many commands in flight and a second writer: a slow moment must not
  // turn into a timeout (an unknown outcome) in these tests.
  opts.command_timeout = std::chrono::seconds(30);
  // Two processes keep the same three streams busy, 16 commands in flight
  // each: a command may lose the race more often than the default 10 times
  // in a row while the other process appends (seen under ASan). The test is
  // that a lost race is retried at all, not how often.
  opts.conflict_retries = 100;
  auto rt = std::make_unique<annals::Runtime>(opts);
  rt->register_aggregate(bank::account_type());
  return rt;
}

annals::Command deposit_with_id(const std::string& account, const std::string& command_id) {
  auto c = deposit(account, 1);
  c.command_id = command_id;
  return c;
}

// Prints one line and flushes it at once: the parent may kill us right after.
void print_line(std::mutex& out, const std::string& line) {
  std::lock_guard<std::mutex> lock(out);
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

int acks(const std::string& db, const std::string& round, int threads, int accounts) {
  auto rt = make_runtime(db);
  std::mutex out;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      std::deque<std::pair<std::string, std::future<annals::CommandResult>>> in_flight;
      for (long n = 0;; ++n) {
        const std::string account = "acc-" + std::to_string((t + n) % accounts);
        const std::string id = "r" + round + "-t" + std::to_string(t) + "-" + std::to_string(n);
        in_flight.emplace_back(account, rt->execute_async(deposit_with_id(account, id)));
        if (in_flight.size() < 8) continue;
        auto [acc, pending] = std::move(in_flight.front());
        in_flight.pop_front();
        auto r = pending.get();
        if (!r.accepted()) {
          std::cerr << "unexpected: " << annals::json::serialize(r.to_json()) << "\n";
          std::_Exit(2);
        }
        print_line(out, "ACK " + acc + " " + r.events.at(0).metadata.causation_id + " " + std::to_string(r.version)
                          + " " + std::to_string(r.position));
      }
    });
  for (auto& w : workers) w.join();  // never: the parent kills the process
  return 0;
}

// Value of a counter in Prometheus text (the sum over its label sets).
long long counter_value(const std::string& text, const std::string& name) {
  long long sum = 0;
  std::size_t at = 0;
  while ((at = text.find("\n" + name, at)) != std::string::npos) {
    const std::size_t end = text.find('\n', at + 1);
    const std::string line = text.substr(at + 1, end - at - 1);
    at = end;
    if (line.compare(0, name.size(), name) != 0 || (line[name.size()] != '{' && line[name.size()] != ' ')) continue;
    sum += std::stoll(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

int race(const std::string& db, const std::string& start_file, const std::string& tag, int accounts, int n) {
  auto rt = make_runtime(db);
  std::mutex out;
  print_line(out, "READY");
  struct stat st;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (::stat(start_file.c_str(), &st) != 0) {
    if (std::chrono::steady_clock::now() > give_up) {
      std::cerr << "no start file " << start_file << " after 60 s\n";
      return 3;
    }
    // Polling for the start file, so that both writers begin together (a condition, not a guess).
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  std::vector<std::thread> workers;
  for (int a = 0; a < accounts; ++a)
    workers.emplace_back([&, a] {
      const std::string account = "race-" + std::to_string(a);
      std::deque<std::pair<std::string, std::future<annals::CommandResult>>> in_flight;
      auto settle_front = [&] {
        auto [id, pending] = std::move(in_flight.front());
        in_flight.pop_front();
        auto r = pending.get();
        if (r.accepted())
          print_line(out, "ACK " + id + " " + std::to_string(r.version) + " " + std::to_string(r.position));
        else if (r.code() == annals::errc::concurrency_conflict)  // lost the race on every retry: nothing appended
          print_line(out, "FAIL " + id + " " + std::string(r.code()));
        else  // a timeout, a store failure: the command may have committed
          print_line(out, "UNKNOWN " + id + " " + std::string(r.code()));
      };
      for (int seq = 0; seq < n; ++seq) {
        const std::string id = tag + "-" + account + "-" + std::to_string(seq);
        in_flight.emplace_back(id, rt->execute_async(deposit_with_id(account, id)));
        if (in_flight.size() >= 16) settle_front();
      }
      while (!in_flight.empty()) settle_front();
    });
  for (auto& w : workers) w.join();
  const std::string metrics = "\n" + rt->metrics_text();
  print_line(out, "STATS lock_waits=" + std::to_string(annals::sqlite_lock_waits())
                    + " conflicts=" + std::to_string(counter_value(metrics, "annals_aggregate_conflict_reloads_total")));
  return 0;
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
    if (mode == "acks" && argc == 6) return acks(argv[2], argv[3], std::stoi(argv[4]), std::stoi(argv[5]));
    if (mode == "race" && argc == 7) return race(argv[2], argv[3], argv[4], std::stoi(argv[5]), std::stoi(argv[6]));
    if (mode == "read-only" && argc == 4) return read_only(argv[2], argv[3]);
    if (mode == "retry" && argc == 4) return retry(argv[2], argv[3]);
    std::cerr << "usage: annals_test_writer crash|acks|race|deposit|read-only|retry <db> ... (see the top of test_writer.cpp)\n";
    return 64;
  } catch (const std::exception& e) {
    std::cerr << "annals_test_writer: " << e.what() << "\n";
    return 1;
  }
}
