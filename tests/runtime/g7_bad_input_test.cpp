// G7: bad input gets a clear error and changes nothing; the runtime keeps
// serving other commands.

#include "child_process.hpp"
#include "runtime_fixture.hpp"
#include "text.hpp"

#include <catch2/catch.hpp>

#include <SQLiteCpp/SQLiteCpp.h>

#include <filesystem>
#include <fstream>
#include <cmath>
#include <iterator>
#include <limits>

using namespace annals;
using namespace annals::test;
namespace fs = std::filesystem;

namespace {

// A test aggregate whose commands misbehave on purpose.
struct Blob {
  std::int64_t size = 0;
};

AggregateType blob_type() {
  return AggregateType::define<Blob>("blob")
    .handle_json("grow",
                 [](const Blob&, const Command& c) {
                   auto n = static_cast<std::size_t>(c.data.at("size").as_int64());
                   return Decision::accept({NewEvent{"grown", 1, json::object{{"fill", std::string(n, 'x')}}}});
                 })
    .handle_json("explode", [](const Blob&, const Command&) -> Decision { throw std::runtime_error("kaboom"); })
    .handle_json("nan", [](const Blob&, const Command&) {
      return Decision::accept({NewEvent{"grown", 1, json::object{{"fill", std::nan("")}}}});
    })
    .apply_json("grown", [](Blob& b, const Event& e) {
      b.size += static_cast<std::int64_t>(e.data.at("fill").as_string().size());
    });
}

} // namespace

TEST_CASE_METHOD(RuntimeFixture, "G7 malformed JSON commands are rejected with a clear error and change nothing") {
  auto rt = bank_runtime();
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  const auto before = stored_events();

  struct Case {
    std::string json, code, says;
  };
  const std::vector<Case> cases = {
    {R"({"aggregate": "account", "id": )", "invalid_command", "malformed JSON at byte"},
    {R"([1, 2, 3])", "invalid_command", "must be a JSON object"},
    {R"({"id": "acc-1", "command": "deposit"})", "invalid_command", "missing field 'aggregate'"},
    {R"({"aggregate": "account", "id": 7, "command": "deposit"})", "invalid_command", "field 'id': expected string"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": {"amount": "ten"}})",
     "invalid_command", "field 'amount': expected integer, got string"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": {}})", "invalid_command",
     "missing field 'amount'"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": {"amount": 1, "memo": "x"}})",
     "invalid_command", "unknown field 'memo'"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": [1]})", "invalid_command",
     "field 'data': expected object"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "expected_verison": 1, "data": {"amount": 1}})",
     "invalid_command", "unknown field 'expected_verison'"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "expected_version": "1", "data": {"amount": 1}})",
     "invalid_command", "expected_version"},
    {R"({"aggregate": "ledger", "id": "acc-1", "command": "deposit", "data": {"amount": 1}})", "unknown_aggregate",
     "ledger"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "transfer", "data": {}})", "unknown_command", "transfer"},
    {R"({"aggregate": "account", "id": "", "command": "deposit", "data": {"amount": 1}})", "invalid_command",
     "'id' must not be empty"},
    {R"({"aggregate": "account", "id": "acc-1", "command": "deposit", "data": {"amount": 99999999999999999999}})",
     "invalid_command", "amount"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto r = rt->execute_json(c.json);
    CHECK(r.rejected());
    CHECK(r.code() == c.code);
    REQUIRE(r.error);
    CHECK(contains(r.error->message, c.says));
  }
  CHECK(stored_events() == before);
  CHECK(rt->execute(deposit("acc-1", 1)).accepted());
}

TEST_CASE_METHOD(RuntimeFixture, "G7 oversized and over-long input is refused before it reaches an aggregate") {
  auto o = options();
  o.limits.max_data_bytes = 4096;
  o.limits.max_envelope_bytes = 8192;
  o.limits.max_id_length = 64;
  auto rt = bank_runtime(o);
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  const auto before = stored_events();

  auto big = account_command("acc-1", "open", {{"owner", std::string(5000, 'a')}});
  auto r = rt->execute(big);
  CHECK(r.code() == errc::payload_too_large);
  CHECK(contains(r.error->message, "limit is 4096"));

  std::string huge_envelope = R"({"aggregate":"account","id":"acc-1","command":"open","data":{"owner":")"
                              + std::string(10000, 'b') + R"("}})";
  CHECK(rt->execute_json(huge_envelope).code() == errc::payload_too_large);

  CHECK(contains(rt->execute(deposit(std::string(65, 'i'), 1)).error->message, "limit is 64"));
  CHECK(rt->execute(deposit("bad\nid", 1)).code() == errc::invalid_command);
  auto negative = deposit("acc-1", 1);
  negative.expected_version = -1;
  CHECK(rt->execute(negative).code() == errc::invalid_command);

  CHECK(stored_events() == before);
  CHECK(rt->active_aggregates() == 1);  // none of them activated an aggregate
  CHECK(rt->execute(deposit("acc-1", 1)).accepted());
}

TEST_CASE_METHOD(RuntimeFixture, "G7 an event over the store's size limit fails that command alone") {
  SqliteStoreOptions so;
  so.max_event_bytes = 1000;
  auto rt = bank_runtime(options(so));
  rt->register_aggregate(blob_type());
  REQUIRE(rt->execute(open_account("acc-1")).accepted());

  std::vector<std::future<CommandResult>> ok;
  Command grow;
  grow.aggregate = "blob";
  grow.id = "b-1";
  grow.command = "grow";
  grow.data = {{"size", 5000}};
  auto too_big = rt->execute_async(grow);
  for (int i = 0; i < 20; ++i) ok.push_back(rt->execute_async(deposit("acc-1", 1)));
  auto r = too_big.get();
  CHECK(r.rejected());
  CHECK(r.code() == errc::payload_too_large);
  CHECK(contains(r.error->message, "'grown'"));
  for (auto& f : ok) CHECK(f.get().accepted());

  grow.data = {{"size", 100}};
  auto small = rt->execute(grow);
  CHECK(small.accepted());
  CHECK(small.version == 1);  // the failed one left no trace in the stream
}

TEST_CASE_METHOD(RuntimeFixture, "G7 a command handler that throws fails that command only") {
  auto rt = bank_runtime();
  rt->register_aggregate(blob_type());
  Command boom;
  boom.aggregate = "blob";
  boom.id = "b-1";
  boom.command = "explode";
  auto r = rt->execute(boom);
  CHECK(r.failed());
  CHECK(r.code() == errc::internal_error);
  CHECK(contains(r.error->message, "kaboom"));
  CHECK(stored_events() == 0);
  Command grow = boom;
  grow.command = "grow";
  grow.data = {{"size", 3}};
  CHECK(rt->execute(grow).accepted());
}

TEST_CASE_METHOD(RuntimeFixture, "G7 NaN cannot be stored: a command or event holding one is refused, nothing is written") {
  auto rt = bank_runtime();
  rt->register_aggregate(blob_type());
  Command nan_event;
  nan_event.aggregate = "blob";
  nan_event.id = "b-1";
  nan_event.command = "nan";
  auto r = rt->execute(nan_event);
  CHECK(r.failed());
  CHECK(contains(r.error->message, "NaN or infinite"));
  auto nan_data = deposit("acc-1", 1);
  nan_data.data["amount"] = std::numeric_limits<double>::infinity();
  CHECK(rt->execute(nan_data).code() == errc::invalid_command);
  CHECK(stored_events() == 0);
  Command grow = nan_event;
  grow.command = "grow";
  grow.data = {{"size", 2}};
  CHECK(rt->execute(grow).version == 1);  // the stream is still readable
}

TEST_CASE_METHOD(RuntimeFixture, "G7 a file that is not a database is refused and left unchanged") {
  {
    std::ofstream junk(db, std::ios::binary);
    for (int i = 0; i < 4096; ++i) junk.put(static_cast<char>((i * 7919) % 251));
  }
  const std::string original = read_file(db);
  try {
    auto rt = bank_runtime();
    FAIL("a runtime opened a junk file");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreFailure::corrupt);
    CHECK(contains(e.what(), db));
    CHECK(contains(e.what(), "not an SQLite database"));
    CHECK(e.error().code == errc::store_unavailable);
  }
  CHECK(read_file(db) == original);
}

TEST_CASE_METHOD(RuntimeFixture, "G7 an SQLite file of another application is refused and left unchanged") {
  {
    SQLite::Database other(db, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    other.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers(name) VALUES('x')");
  }
  const std::string original = read_file(db);
  CHECK_THROWS_AS(bank_runtime(), StoreError);
  try {
    bank_runtime();
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreFailure::incompatible);
    CHECK(contains(e.what(), "not an annals store"));
  }
  CHECK(read_file(db) == original);
}

SCENARIO_METHOD(RuntimeFixture, "G7 a database locked by another writer: a clear error, nothing changes, service resumes") {
  SqliteStoreOptions so;
  so.busy_timeout = std::chrono::milliseconds(200);
  auto rt = bank_runtime(options(so));
  REQUIRE(rt->execute(open_account("acc-1")).accepted());
  REQUIRE(rt->execute(open_account("acc-2")).accepted());
  const auto before = stored_events();
  GIVEN("another connection holds the write lock") {
    SQLite::Database other(db, SQLite::OPEN_READWRITE);
    other.exec("BEGIN IMMEDIATE");
    WHEN("a command needs to append") {
      auto r = rt->execute(deposit("acc-1", 10));
      THEN("it fails with store_unavailable saying the store is locked") {
        CHECK(r.failed());
        CHECK(r.code() == errc::store_unavailable);
        CHECK(contains(r.error->message, "locked"));
        AND_THEN("reads and rejections still work meanwhile") {
          CHECK(balance(*rt, "acc-2") == 0);
          CHECK(rt->execute(withdraw("acc-2", 5)).code() == "insufficient_funds");
        }
        AND_THEN("once the lock is released commands succeed again, without the failed one") {
          other.exec("COMMIT");
          auto again = rt->execute(deposit("acc-1", 7));
          REQUIRE(again.accepted());
          CHECK(again.version == 2);
          CHECK(balance(*rt, "acc-1") == 7);
          CHECK(stored_events() == before + 1);
        }
      }
    }
  }
}

TEST_CASE_METHOD(RuntimeFixture, "G7 a read-only database file: reads work, commands fail clearly, the file is unchanged") {
  {
    auto rt = bank_runtime();
    REQUIRE(rt->execute(open_account("acc-ro")).accepted());
    REQUIRE(rt->execute(deposit("acc-ro", 3)).accepted());
  }
  {
    // Fold the WAL into the main file, as before handing a file out read-only.
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    raw.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  REQUIRE_FALSE(fs::exists(db + "-wal"));
  const std::string original = read_file(db);
  fs::permissions(dir.path(), fs::perms::all);                // the helper may create its -shm file
  fs::permissions(db, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
  const int rc = run_writer({"read-only", db, "acc-ro"});
  fs::permissions(db, fs::perms::owner_read | fs::perms::owner_write);
  CHECK(rc == 0);
  CHECK(read_file(db) == original);
}

TEST_CASE_METHOD(RuntimeFixture, "G7 a full disk: the failing command reports it, nothing partial is stored, service continues") {
  SqliteStoreOptions so;
  so.max_size_bytes = 256 * 1024;
  std::int64_t accepted = 0;
  {
    auto rt = bank_runtime(options(so));
    rt->register_aggregate(blob_type());
    REQUIRE(rt->execute(open_account("acc-1")).accepted());
    Command grow;
    grow.aggregate = "blob";
    grow.id = "b-1";
    grow.command = "grow";
    grow.data = {{"size", 8000}};
    CommandResult r;
    for (int i = 0; i < 200; ++i) {
      r = rt->execute(grow);
      if (!r.accepted()) break;
      ++accepted;
    }
    REQUIRE(r.failed());
    CHECK(r.code() == errc::store_unavailable);
    INFO(r.error->message);
    CHECK(contains(r.error->message, "full"));
    CHECK(accepted > 5);
    CHECK(rt->read_stream({"blob", "b-1"}).size() == static_cast<std::size_t>(accepted));
    // Reads and decisions that append nothing still work.
    CHECK(rt->execute(withdraw("acc-1", 5)).code() == "insufficient_funds");
    CHECK(balance(*rt, "acc-1") == 0);
  }
  // With room again, the same file takes commands again.
  auto rt = bank_runtime();
  rt->register_aggregate(blob_type());
  CHECK(rt->execute(deposit("acc-1", 5)).accepted());
  CHECK(rt->read_stream({"blob", "b-1"}).size() == static_cast<std::size_t>(accepted));
}

TEST_CASE_METHOD(RuntimeFixture, "G7 a damaged stored event: that aggregate reports it, others keep working") {
  {
    auto rt = bank_runtime(options(), 0);
    REQUIRE(rt->execute(open_account("acc-bad")).accepted());
    REQUIRE(rt->execute(deposit("acc-bad", 5)).accepted());
    REQUIRE(rt->execute(open_account("acc-good")).accepted());
  }
  std::int64_t damaged = 0;
  {
    SQLite::Database raw(db, SQLite::OPEN_READWRITE);
    damaged = raw.execAndGet("SELECT position FROM events WHERE stream_id='acc-bad' AND version=2").getInt64();
    raw.exec("UPDATE events SET data='{broken' WHERE position=" + std::to_string(damaged));
  }
  auto rt = bank_runtime(options(), 0);
  auto r = rt->execute(deposit("acc-bad", 1));
  CHECK(r.failed());
  CHECK(r.code() == errc::store_unavailable);
  CHECK(contains(r.error->message, "event " + std::to_string(damaged)));
  CHECK(contains(r.error->message, "account/acc-bad"));
  CHECK(rt->execute(deposit("acc-good", 1)).accepted());
  CHECK(stored_events() == 4);
}

TEST_CASE_METHOD(RuntimeFixture, "G7 a flood of distinct ids keeps live aggregates within max_active_aggregates") {
  // Each id activates an actor, even for a rejected command. Without a bound
  // they would all stay until passivate_after (minutes).
  auto o = options();
  o.max_active_aggregates = 50;
  auto rt = bank_runtime(o, 0);
  REQUIRE(rt->execute(open_account("kept")).accepted());
  REQUIRE(rt->execute(deposit("kept", 7)).accepted());
  std::size_t most_active = 0;
  for (int i = 0; i < 2000; ++i) {
    auto r = rt->execute(deposit("random-" + std::to_string(i), 1));  // no such account: rejected
    REQUIRE(r.code() == "account_not_open");
    if (i % 100 == 0) most_active = std::max(most_active, rt->active_aggregates());
  }
  // Idle ones leave at once when asked; only a few commands are ever in hand.
  REQUIRE(eventually([&] { return rt->active_aggregates() <= 50; }));
  INFO("most live aggregates seen during the flood: " << most_active);
  CHECK(most_active <= 60);
  CHECK(rt->metrics().aggregates.at(0).evictions >= 1900);
  // An evicted aggregate comes back with its state.
  CHECK(balance(*rt, "kept") == 7);
  CHECK(rt->execute(deposit("kept", 1)).version == 3);
}
