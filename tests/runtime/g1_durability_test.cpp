// G1: an acknowledged command's events are committed before the reply; a
// crash after the reply loses none.

#include "child_process.hpp"
#include "runtime_fixture.hpp"

#include <catch2/catch.hpp>

#include <csignal>
#include <map>
#include <sstream>

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

TEST_CASE_METHOD(RuntimeFixture, "G1 acknowledged events survive a process killed with SIGKILL") {
  {
    auto rt = bank_runtime();
    REQUIRE(rt->execute(open_account("acc-k")).accepted());
  }
  std::map<std::int64_t, std::int64_t> acked;  // version -> position
  {
    WriterProcess writer({"crash", db, "acc-k"});
    while (acked.size() < 300) {
      std::string line = writer.read_line();
      REQUIRE(!line.empty());
      std::istringstream in(line);
      std::string tag;
      std::int64_t version = 0, position = 0;
      in >> tag >> version >> position;
      REQUIRE(tag == "ACK");
      acked[version] = position;
    }
    writer.kill(SIGKILL);  // mid-stream: commands are in flight
  }
  auto store = open_sqlite_store({db});
  auto events = store->read_stream({"account", "acc-k"}, 1, 1000000);
  std::map<std::int64_t, std::int64_t> stored;
  for (const auto& e : events) stored[e.version] = e.position;
  for (const auto& [version, position] : acked) {
    INFO("acknowledged version " << version);
    REQUIRE(stored.count(version) == 1);
    CHECK(stored[version] == position);
  }
  // Nothing beyond what was committed, and versions stay contiguous.
  for (std::size_t i = 0; i < events.size(); ++i) CHECK(events[i].version == static_cast<std::int64_t>(i) + 1);
}
