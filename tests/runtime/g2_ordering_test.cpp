// G2: per aggregate, commands apply one at a time in arrival order; stream
// versions are contiguous; an append with a stale expected version is
// rejected, also across processes sharing the file.

#include "child_process.hpp"
#include "runtime_fixture.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace annals;
using namespace annals::test;

namespace {

void require_contiguous(const std::vector<Event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    REQUIRE(events[i].version == static_cast<std::int64_t>(i) + 1);
    if (i > 0) REQUIRE(events[i].position > events[i - 1].position);
  }
}

} // namespace

TEST_CASE_METHOD(RuntimeFixture, "G2 1000 deposits from 8 threads give the exact balance and contiguous versions") {
  auto rt = bank_runtime();
  REQUIRE(rt->execute(open_account("hot")).accepted());
  std::atomic<std::int64_t> expected{0};
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 125; ++i) {
        const std::int64_t amount = 1 + (t * 125 + i) % 17;
        auto r = rt->execute(deposit("hot", amount));
        if (r.accepted()) {
          expected += amount;
          ++accepted;
        }
      }
    });
  for (auto& th : threads) th.join();
  REQUIRE(accepted == 1000);
  CHECK(balance(*rt, "hot") == expected.load());
  auto events = rt->read_stream({"account", "hot"});
  REQUIRE(events.size() == 1001);
  require_contiguous(events);
}

TEST_CASE_METHOD(RuntimeFixture, "G2 commands sent asynchronously from one thread apply in the order sent") {
  auto rt = bank_runtime();
  REQUIRE(rt->execute(open_account("ordered")).accepted());
  std::vector<std::future<CommandResult>> results;
  for (int i = 1; i <= 300; ++i) results.push_back(rt->execute_async(deposit("ordered", i)));
  for (auto& f : results) REQUIRE(f.get().accepted());
  auto events = rt->read_stream({"account", "ordered"});
  REQUIRE(events.size() == 301);
  require_contiguous(events);
  for (int i = 1; i <= 300; ++i) CHECK(events[static_cast<std::size_t>(i)].data.at("amount").as_int64() == i);
}

TEST_CASE_METHOD(RuntimeFixture, "execute_async calls back on a runtime thread, also for commands refused at once") {
  auto rt = bank_runtime();
  const auto caller = std::this_thread::get_id();
  auto where = [&](Command c) {
    std::promise<std::thread::id> p;
    auto f = p.get_future();
    rt->execute_async(std::move(c), [&p](CommandResult) { p.set_value(std::this_thread::get_id()); });
    return f.get();
  };
  CHECK(where(open_account("acc-1")) != caller);
  CHECK(where(account_command("acc-1", "no_such_command")) != caller);  // refused before dispatch
}

TEST_CASE_METHOD(RuntimeFixture, "G2 many aggregates in parallel each keep contiguous versions") {
  auto rt = bank_runtime();
  std::vector<std::future<CommandResult>> results;
  for (int a = 0; a < 50; ++a) results.push_back(rt->execute_async(open_account("p-" + std::to_string(a))));
  for (int round = 0; round < 10; ++round)
    for (int a = 0; a < 50; ++a) results.push_back(rt->execute_async(deposit("p-" + std::to_string(a), 1)));
  for (auto& f : results) REQUIRE(f.get().accepted());
  for (int a = 0; a < 50; ++a) {
    auto events = rt->read_stream({"account", "p-" + std::to_string(a)});
    REQUIRE(events.size() == 11);
    require_contiguous(events);
  }
  CHECK(rt->head_position() == 550);
}

SCENARIO_METHOD(RuntimeFixture, "G2 a stale expected_version is rejected with concurrency_conflict") {
  GIVEN("an account at version 3") {
    auto rt = bank_runtime();
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 5)).accepted());
    REQUIRE(rt->execute(deposit("acc-1", 5)).version == 3);
    WHEN("a command expects version 2") {
      auto cmd = deposit("acc-1", 100);
      cmd.expected_version = 2;
      auto r = rt->execute(cmd);
      THEN("it is rejected and nothing is appended") {
        CHECK(r.rejected());
        CHECK(r.code() == errc::concurrency_conflict);
        CHECK(r.error->message.find("version 3") != std::string::npos);
        CHECK(rt->read_stream({"account", "acc-1"}).size() == 3);
      }
    }
    WHEN("a command expects the current version 3") {
      auto cmd = deposit("acc-1", 100);
      cmd.expected_version = 3;
      THEN("it is accepted as version 4") { CHECK(rt->execute(cmd).version == 4); }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G2 two runtimes on one file: a stale expected version is rejected, no update is lost") {
  GIVEN("runtime A has the account active at version 1 and runtime B appends to it") {
    auto a = bank_runtime();
    auto b = bank_runtime();
    REQUIRE(a->execute(open_account("shared")).version == 1);
    REQUIRE(b->execute(deposit("shared", 10)).version == 2);
    WHEN("A sends a command expecting version 1 (what A last saw)") {
      auto cmd = deposit("shared", 1);
      cmd.expected_version = 1;
      auto r = a->execute(cmd);
      THEN("the journal detects the other writer and the command is rejected") {
        CHECK(r.code() == errc::concurrency_conflict);
        CHECK(a->read_stream({"account", "shared"}).size() == 2);
      }
    }
    WHEN("A sends a command without an expected version") {
      auto r = a->execute(deposit("shared", 1));
      THEN("A reloads the stream, decides again and includes B's deposit") {
        REQUIRE(r.accepted());
        CHECK(r.version == 3);
        CHECK(balance(*a, "shared") == 11);
        require_contiguous(a->read_stream({"account", "shared"}));
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G2 a second process appending to the same file is detected") {
  GIVEN("this process has the account active at version 1") {
    auto rt = bank_runtime();
    REQUIRE(rt->execute(open_account("two-procs")).version == 1);
    WHEN("another process appends 5 deposits to the same stream") {
      REQUIRE(run_writer({"deposit", db, "two-procs", "5"}) == 0);
      THEN("a command expecting version 1 is rejected with concurrency_conflict") {
        auto cmd = deposit("two-procs", 1);
        cmd.expected_version = 1;
        CHECK(rt->execute(cmd).code() == errc::concurrency_conflict);
      }
      THEN("a command without expectation lands on top, with the other process's deposits counted") {
        auto r = rt->execute(deposit("two-procs", 100));
        REQUIRE(r.accepted());
        CHECK(r.version == 7);
        CHECK(balance(*rt, "two-procs") == 105);
        require_contiguous(rt->read_stream({"account", "two-procs"}));
      }
    }
  }
}

SCENARIO_METHOD(RuntimeFixture, "G2 aggressive passivation under load: one live actor per stream, order kept, no conflict") {
  // Aggregates passivate after 1 ms idle, so activations stop and start all
  // the time while commands keep arriving for the same few streams. A second
  // live actor for a stream would take commands beside the first: arrival
  // order breaks and commands without an expected version fail on conflicts.
  auto o = options();
  o.passivate_after = std::chrono::milliseconds(1);
  auto rt = bank_runtime(o, 0);
  constexpr int accounts = 3, callers = 4, bursts = 150, burst = 4;
  for (int a = 0; a < accounts; ++a) REQUIRE(rt->execute(open_account("p-" + std::to_string(a))).accepted());

  WHEN("each caller sends bursts of asynchronous deposits to its own account, pausing between bursts") {
    std::atomic<int> accepted{0};
    std::vector<std::string> failures;
    std::mutex failures_mutex;
    std::vector<std::thread> threads;
    for (int c = 0; c < callers; ++c)
      threads.emplace_back([&, c] {
        std::mt19937 pause_of(static_cast<unsigned>(c));
        const auto account = "p-" + std::to_string(c % accounts);
        for (int b = 0; b < bursts; ++b) {
          std::vector<std::future<CommandResult>> sent;
          // amount = caller * 100000 + sequence number: the order sent, readable back.
          for (int i = 0; i < burst; ++i) sent.push_back(rt->execute_async(deposit(account, c * 100000 + b * burst + i + 1)));
          for (auto& f : sent) {
            auto r = f.get();
            if (r.accepted()) ++accepted;
            else {
              std::lock_guard<std::mutex> lock(failures_mutex);
              failures.push_back(r.error->code + ": " + r.error->message);
            }
          }
          // Idle for about the passivation time, so the actor is often stopping when the next burst comes.
          std::this_thread::sleep_for(std::chrono::microseconds(pause_of() % 2000));
        }
      });
    for (auto& t : threads) t.join();
    const auto stats = rt->metrics().aggregates.at(0);

    THEN("every command is accepted, versions are contiguous and each caller's deposits are in the order sent") {
      INFO("first failure: " << (failures.empty() ? std::string("none") : failures.front()));
      CHECK(failures.empty());
      CHECK(accepted == callers * bursts * burst);
      INFO(stats.recoveries << " activations");
      CHECK(stats.recoveries > 50);  // passivation really happened, often
      // Nobody else writes these streams: a lost version race means two live
      // actors for one stream.
      CHECK(stats.conflict_reloads == 0);
      int deposits = 0;
      for (int a = 0; a < accounts; ++a) {
        auto events = rt->read_stream({"account", "p-" + std::to_string(a)});
        require_contiguous(events);
        std::map<std::int64_t, std::int64_t> last_of_caller;
        for (const auto& e : events) {
          if (e.type != "deposited") continue;
          ++deposits;
          const auto amount = e.data.at("amount").as_int64();
          auto& last = last_of_caller[amount / 100000];
          INFO("account p-" << a << " version " << e.version);
          CHECK(amount > last);
          last = amount;
        }
      }
      CHECK(deposits == callers * bursts * burst);  // the order checks above saw every deposit
    }
  }
}

namespace {

struct RaceOutcome {
  std::vector<std::string> acked, failed, unknown;  // command ids, in the order the process sent them
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> ack_at;  // id -> (version, position)
  long long lock_waits = -1, conflicts = -1;
};

// Reads a race writer's output to its end (see test_writer.cpp).
RaceOutcome read_race(WriterProcess& w) {
  RaceOutcome out;
  for (std::string line; !(line = w.read_line()).empty();) {
    std::istringstream in(line);
    std::string tag, id;
    in >> tag;
    INFO("race writer line: " << line);
    if (tag == "ACK") {
      std::int64_t version = 0, position = 0;
      in >> id >> version >> position;
      out.acked.push_back(id);
      out.ack_at[id] = {version, position};
    } else if (tag == "FAIL") {
      in >> id;
      out.failed.push_back(id);
    } else if (tag == "UNKNOWN") {
      in >> id;
      out.unknown.push_back(id);
    } else if (tag == "STATS") {
      REQUIRE(std::sscanf(line.c_str(), "STATS lock_waits=%lld conflicts=%lld", &out.lock_waits, &out.conflicts) == 2);
    } else {
      FAIL("unexpected line from the race writer: " << line);
    }
  }
  return out;
}

} // namespace

SCENARIO_METHOD(RuntimeFixture, "G2 two processes appending to the same streams at the same time lose nothing and keep each one's order") {
  constexpr int accounts = 3, per_account = 250;
  GIVEN("accounts opened in the file, and two writer processes ready on it") {
    {
      auto rt = bank_runtime();
      for (int a = 0; a < accounts; ++a) REQUIRE(rt->execute(open_account("race-" + std::to_string(a))).accepted());
    }
    const std::string start = dir.file("start");
    WriterProcess a({"race", db, start, "A", std::to_string(accounts), std::to_string(per_account)});
    WriterProcess b({"race", db, start, "B", std::to_string(accounts), std::to_string(per_account)});
    REQUIRE(a.read_line() == "READY");
    REQUIRE(b.read_line() == "READY");
    WHEN("both are released together and send deposits to the same accounts") {
      { std::ofstream(start) << "go\n"; }
      auto ra = read_race(a);
      auto rb = read_race(b);
      REQUIRE(a.wait() == 0);
      REQUIRE(b.wait() == 0);
      std::cout << "G2 two writers: A acked " << ra.acked.size() << ", failed " << ra.failed.size() << ", unknown "
                << ra.unknown.size() << ", lock waits " << ra.lock_waits << ", conflicts " << ra.conflicts
                << "; B acked " << rb.acked.size() << ", failed " << rb.failed.size() << ", unknown "
                << rb.unknown.size() << ", lock waits " << rb.lock_waits << ", conflicts " << rb.conflicts
                << std::endl;
      THEN("the contention was real: writers waited for the lock and lost the race on a stream's next version") {
        REQUIRE(ra.acked.size() + ra.failed.size() + ra.unknown.size() == accounts * per_account);
        REQUIRE(rb.acked.size() + rb.failed.size() + rb.unknown.size() == accounts * per_account);
        CHECK(ra.lock_waits + rb.lock_waits > 0);
        CHECK(ra.conflicts + rb.conflicts > 0);
        INFO("no command fails for a lost race: its aggregate reloads and decides it again (conflict_retries, 100 here)");
        CHECK(ra.failed.empty());
        CHECK(rb.failed.empty());
      AND_THEN("every acknowledged event is stored as acknowledged, versions are contiguous, each process's commands in its order") {
        auto store = open_sqlite_store({db});
        std::size_t interleavings = 0;
        for (int acc = 0; acc < accounts; ++acc) {
          const std::string account = "race-" + std::to_string(acc);
          auto events = store->read_stream({"account", account}, 1, 1000000);
          require_contiguous(events);
          std::map<std::string, int> last_seq{{"A", -1}, {"B", -1}};
          std::string previous_writer;
          std::set<std::string> seen;
          for (const auto& e : events) {
            const std::string& id = e.metadata.causation_id;
            if (e.version == 1) continue;  // opened by this test
            INFO(account << " version " << e.version << " caused by '" << id << "'");
            REQUIRE(seen.insert(id).second);  // no command's effect twice
            const std::string writer = id.substr(0, 1);
            REQUIRE((writer == "A" || writer == "B"));
            REQUIRE(id.rfind(writer + "-" + account + "-", 0) == 0);  // nothing from another stream's commands
            const int seq = std::stoi(id.substr(writer.size() + account.size() + 2));
            CHECK(seq > last_seq[writer]);  // this process's own order
            last_seq[writer] = seq;
            if (!previous_writer.empty() && previous_writer != writer) ++interleavings;
            previous_writer = writer;
          }
          for (const auto* r : {&ra, &rb})
            for (const auto& id : r->failed) {
              INFO("refused command " << id);
              CHECK(seen.count(id) == 0);
            }
        }
        for (const auto* r : {&ra, &rb})
          for (const auto& [id, at] : r->ack_at) {
            INFO("acknowledged " << id << " at version " << at.first << " position " << at.second);
            const std::string account = id.substr(2, id.rfind('-') - 2);
            auto events = store->read_stream({"account", account}, at.first, 1);
            REQUIRE(events.size() == 1);
            CHECK(events[0].metadata.causation_id == id);
            CHECK(events[0].position == at.second);
          }
        std::cout << "G2 two writers: the streams switch writer " << interleavings << " times" << std::endl;
        // Both wrote every stream (the contention itself is checked above: lock
        // waits and lost races). More switches depend on the scheduler: a busy
        // 2-core CI machine once ran them in one turn each (3 switches, 3 streams).
        CHECK(interleavings >= accounts);
      }
      }
    }
  }
}
