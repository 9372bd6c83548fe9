// G1: an acknowledged command's events are committed before the reply; a
// crash after the reply loses none.

#include "child_process.hpp"
#include "runtime_fixture.hpp"
#include "test_seed.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace annals;
using namespace annals::test;

TEST_CASE_METHOD(RuntimeFixture, "G1 acknowledged events survive destroying and re-creating the runtime") {
  std::vector<CommandResult> acks;
  {
    auto rt = bank_runtime();
    acks.push_back(rt->execute(open_account("acc-1")));
    for (int i = 1; i <= 20; ++i) acks.push_back(rt->execute(deposit("acc-1", i)));
    for (const auto& r : acks) REQUIRE(r.accepted());
  }
  auto rt = bank_runtime();
  auto events = rt->read_stream({"account", "acc-1"});
  REQUIRE(events.size() == 21);
  for (const auto& r : acks)
    for (const auto& e : r.events) {
      const Event& stored = events.at(static_cast<std::size_t>(e.version - 1));
      CHECK(stored.position == e.position);
      CHECK(stored.type == e.type);
      CHECK(stored.data == e.data);
    }
  CHECK(balance(*rt, "acc-1") == 210);
  CHECK(rt->execute(deposit("acc-1", 1)).version == 22);
}

namespace {

struct Ack {
  std::string account, command_id;
  std::int64_t version = 0, position = 0;
};

// "r<round>-t<thread>-<n>" -> (round, thread, n); false for anything else.
bool parse_command_id(const std::string& id, int& round, int& thread, long& n) {
  char tail = 0;
  return std::sscanf(id.c_str(), "r%d-t%d-%ld%c", &round, &thread, &n, &tail) == 3;
}

} // namespace

TEST_CASE_METHOD(RuntimeFixture,
                 "G1 every acknowledgement printed before a SIGKILL at a seeded random moment is in the store") {
  constexpr int rounds = 6, threads = 4, accounts = 4, window = 8;  // window: the writer's commands in flight per thread
  const std::uint64_t seed = test_seed("G1 kill rounds");
  INFO("seed " << seed << " (ANNALS_TEST_SEED=" << seed << " repeats the kill moments)");
  std::mt19937_64 rng(seed);
  {
    auto rt = bank_runtime();
    for (int a = 0; a < accounts; ++a) {
      auto open = open_account("acc-" + std::to_string(a));
      open.command_id = "open-" + std::to_string(a);
      REQUIRE(rt->execute(open).accepted());
    }
  }
  // Per (round, thread): how many commands it had acknowledged when killed.
  std::map<std::pair<int, int>, long> acked_per_thread;
  std::size_t acked_total = 0;
  for (int round = 1; round <= rounds; ++round) {
    std::vector<Ack> acks;
    const int delay_ms = std::uniform_int_distribution<int>(0, 250)(rng);
    {
      // GIVEN a writer with many commands in flight from several threads
      WriterProcess writer({"acks", db, std::to_string(round), std::to_string(threads), std::to_string(accounts)});
      std::mutex mtx;
      std::vector<std::string> lines;
      std::atomic<bool> first{false};
      std::thread reader([&] {  // drains the pipe so the writer never blocks on printing
        for (std::string line; !(line = writer.read_line()).empty();) {
          std::lock_guard<std::mutex> lock(mtx);
          lines.push_back(std::move(line));
          first = true;
        }
      });
      struct KillAndJoin {  // also when a REQUIRE fails: the reader ends once the writer is dead
        WriterProcess& w;
        std::thread& t;
        ~KillAndJoin() {
          w.kill(SIGKILL);
          if (t.joinable()) t.join();
        }
      } stop_on_exit{writer, reader};
      REQUIRE(eventually([&] { return first.load(); }));
      // WHEN it is killed at a random moment while acknowledging
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));  // the kill moment, not a synchronisation
      writer.kill(SIGKILL);
      reader.join();  // every line it printed before dying, up to end of output
      std::lock_guard<std::mutex> lock(mtx);
      for (const auto& line : lines) {
        std::istringstream in(line);
        std::string tag;
        Ack a;
        in >> tag >> a.account >> a.command_id >> a.version >> a.position;
        INFO("writer line: " << line);
        REQUIRE(tag == "ACK");
        REQUIRE(a.position > 0);
        acks.push_back(a);
      }
    }
    REQUIRE(!acks.empty());
    // THEN every acknowledged command's event is in the store, as acknowledged
    auto store = open_sqlite_store({db});
    auto events = store->read_all(1, 10000000);
    std::map<std::string, const Event*> by_command;
    for (const auto& e : events) {
      INFO("stored event at position " << e.position << " caused by '" << e.metadata.causation_id << "'");
      REQUIRE(by_command.emplace(e.metadata.causation_id, &e).second);  // no command's effect twice
    }
    for (const auto& a : acks) {
      INFO("round " << round << ": acknowledged " << a.command_id << " as " << a.account << " version " << a.version
                    << " position " << a.position);
      auto it = by_command.find(a.command_id);
      REQUIRE(it != by_command.end());
      CHECK(it->second->stream == StreamId{"account", a.account});
      CHECK(it->second->version == a.version);
      CHECK(it->second->position == a.position);
      int r = 0, t = 0;
      long n = 0;
      REQUIRE(parse_command_id(a.command_id, r, t, n));
      auto& count = acked_per_thread[{r, t}];
      count = std::max(count, n + 1);
    }
    acked_total += acks.size();
    // ... versions are contiguous in every stream ...
    std::map<std::string, std::int64_t> last_version;
    for (const auto& e : events) {
      INFO("stored event at position " << e.position << " of " << e.stream.to_string());
      REQUIRE(e.version == ++last_version[e.stream.id]);
    }
    // ... and every stored event was caused by a command the writers sent:
    // a thread's acknowledged commands (0..k-1, in order) and at most its
    // `window` commands in flight after them.
    std::size_t in_flight_committed = 0;
    for (const auto& e : events) {
      const std::string& id = e.metadata.causation_id;
      if (id.rfind("open-", 0) == 0) continue;
      int r = 0, t = 0;
      long n = 0;
      INFO("stored event at position " << e.position << " caused by '" << id << "'");
      REQUIRE(parse_command_id(id, r, t, n));
      REQUIRE(r >= 1);
      REQUIRE(r <= round);
      REQUIRE(t >= 0);
      REQUIRE(t < threads);
      const long acked = acked_per_thread[{r, t}];
      REQUIRE(n < acked + window);
      if (r == round && n >= acked) ++in_flight_committed;
    }
    std::cout << "G1 kill round " << round << "/" << rounds << ": SIGKILL " << delay_ms
              << " ms after the first acknowledgement; " << acks.size() << " acknowledged, all present; "
              << in_flight_committed << " commands in flight at the kill had committed" << std::endl;
  }
  std::cout << "G1 kill rounds: " << rounds << " rounds, " << acked_total << " acknowledged commands, 0 lost" << std::endl;
}
