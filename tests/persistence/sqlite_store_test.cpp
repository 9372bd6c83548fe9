// What only the SQLite store does: files that survive, files that are not
// ours, size limits, locks held by others, damaged rows, WAL mode.

#include <annals/persistence/sqlite_event_store.hpp>

#include "faulty_vfs.hpp"
#include "temp_dir.hpp"

#include <SQLiteCpp/SQLiteCpp.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace json = annals::json;
using annals::AppendRequest;
using annals::NewEvent;
using annals::SqliteStoreOptions;
using annals::StoreError;
using annals::StoreFailure;
using annals::StreamId;

namespace {

const StreamId acc1{"account", "acc-1"};
constexpr std::size_t all = 100000;
const int rw = SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE;

SqliteStoreOptions options_for(const annals::test::TempDir& dir) {
  SqliteStoreOptions o;
  o.path = dir.file("events.db");
  return o;
}

AppendRequest deposit_request(const StreamId& s, std::int64_t expected, std::vector<std::int64_t> amounts) {
  AppendRequest r;
  r.stream = s;
  r.expected_version = expected;
  for (auto a : amounts) r.events.push_back(NewEvent{"deposited", 1, json::object{{"amount", a}}});
  r.metadata.correlation_id = "corr";
  r.metadata.causation_id = "cause";
  return r;
}

void append_ok(annals::EventStore& store, AppendRequest r) {
  auto out = store.append({std::move(r)});
  REQUIRE(out.size() == 1);
  INFO((out[0] ? std::string("ok") : annals::to_string(out[0].error())));
  REQUIRE(out[0].has_value());
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs f, which must throw StoreError; returns it.
template <class F>
StoreError expect_store_error(F&& f) {
  try {
    f();
  } catch (const StoreError& e) {
    return e;
  }
  FAIL("expected a StoreError");
  throw std::logic_error("unreachable");
}

} // namespace

TEST_CASE("sqlite store: events, keys and snapshots survive closing and reopening", "[sqlite]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  {
    auto store = annals::open_sqlite_store(opts);
    append_ok(*store, deposit_request(acc1, 0, {10, 20}));
    auto keyed = deposit_request(acc1, 2, {30});
    keyed.idempotency_key = "key-1";
    keyed.fingerprint = "fp";
    append_ok(*store, keyed);
    annals::Snapshot snap;
    snap.stream = acc1;
    snap.version = 2;
    snap.state = json::object{{"balance", 30}};
    store->save_snapshot(snap);
  }
  auto store = annals::open_sqlite_store(opts);
  CHECK(store->event_count() == 3);
  CHECK(store->stream_version(acc1) == 3);
  CHECK(store->head_position() == 3);
  auto evs = store->read_stream(acc1, 1, all);
  REQUIRE(evs.size() == 3);
  CHECK(evs[2].data.at("amount") == 30);
  CHECK(evs[2].metadata.correlation_id == "corr");
  CHECK(evs[2].metadata.causation_id == "cause");
  auto rec = store->find_idempotency_key("key-1");
  REQUIRE(rec.has_value());
  CHECK(rec->result.position == 3);
  auto snap = store->load_snapshot(acc1);
  REQUIRE(snap.has_value());
  CHECK(snap->state.at("balance") == 30);
  // And the stream continues where it was.
  append_ok(*store, deposit_request(acc1, 3, {40}));
  CHECK(store->stream_version(acc1) == 4);
}

// An event's data is stored as text: reading it back must give the same
// doubles (Boost.JSON 1.81's own parser is off by one unit in the last place
// for some, e.g. 1.05e301, so a replay would see other values than the
// live path did; found by fuzz/fuzz_command_json).
TEST_CASE("sqlite store: doubles in an event's data read back exactly as they were appended", "[sqlite]") {
  annals::test::TempDir dir;
  const std::vector<double> values{1.05e301, 123456789.12345679, 2.2250738585072009e-308, 0.1, -7.25e-3};
  {
    auto store = annals::open_sqlite_store(options_for(dir));
    AppendRequest r;
    r.stream = acc1;
    r.expected_version = 0;
    for (double v : values) r.events.push_back(NewEvent{"measured", 1, json::object{{"value", v}}});
    append_ok(*store, r);
  }
  auto store = annals::open_sqlite_store(options_for(dir));
  auto evs = store->read_stream(acc1, 1, all);
  REQUIRE(evs.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    INFO("value " << i);
    CHECK(evs[i].data.at("value").as_double() == values[i]);
  }
}

TEST_CASE("sqlite store: the store uses WAL journal mode", "[sqlite]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  auto store = annals::open_sqlite_store(opts);
  SQLite::Database db(opts.path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == annals::sqlite_schema_version());
  CHECK(annals::sqlite_schema_version() >= 1);
}

SCENARIO("sqlite store: a database where WAL journal mode cannot be set is refused, naming the file and the mode",
         "[sqlite][wal]") {
  GIVEN("a file on a filesystem without shared memory (a VFS without xShm methods)") {
    annals::test::TempDir dir;
    auto opts = options_for(dir);
    annals::test::FaultyVfs::instance();  // registers the VFSes
    opts.vfs = annals::test::FaultyVfs::no_shared_memory;
    WHEN("it is opened as a store") {
      auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
      THEN("the error says WAL could not be set, with the file and the journal mode SQLite kept") {
        CHECK(e.kind() == StoreFailure::unavailable);
        CHECK_THAT(std::string(e.what()),
                   Catch::Contains("'" + opts.path + "' cannot use WAL journal mode")
                     && Catch::Contains("kept journal mode 'delete'") && Catch::Contains("shared memory"));
      }
    }
  }
  GIVEN("an in-memory database") {
    SqliteStoreOptions opts;
    opts.path = ":memory:";
    WHEN("it is opened as a store") {
      auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
      THEN("the error names it and the journal mode 'memory'") {
        CHECK_THAT(std::string(e.what()), Catch::Contains("':memory:' cannot use WAL journal mode")
                                             && Catch::Contains("kept journal mode 'memory'"));
      }
    }
  }
}

TEST_CASE("sqlite store: a file that is not a database is refused as corrupt and left unchanged", "[sqlite]") {
  annals::test::TempDir dir;
  const std::string path = dir.file("junk.db");
  std::string junk;
  for (int i = 0; junk.size() < 8192; ++i) junk += "this is not an SQLite database, line " + std::to_string(i) + "\n";
  {
    std::ofstream out(path, std::ios::binary);
    out << junk;
  }
  SqliteStoreOptions opts;
  opts.path = path;
  auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
  CHECK(e.kind() == StoreFailure::corrupt);
  CHECK_THAT(std::string(e.what()), Catch::Contains(path));
  CHECK(e.error().code == "store_unavailable");
  CHECK(read_bytes(path) == junk);
}

TEST_CASE("sqlite store: another application's SQLite file is refused as incompatible and left alone",
          "[sqlite]") {
  annals::test::TempDir dir;
  const std::string path = dir.file("other.db");
  {
    SQLite::Database other(path, rw);
    other.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    other.exec("INSERT INTO customers(name) VALUES('Ada'), ('Grace')");
  }
  SqliteStoreOptions opts;
  opts.path = path;
  auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
  CHECK(e.kind() == StoreFailure::incompatible);
  CHECK_THAT(std::string(e.what()), Catch::Contains(path) && Catch::Contains("not an annals store"));

  SQLite::Database other(path, SQLite::OPEN_READONLY);
  CHECK(other.execAndGet("SELECT count(*) FROM customers").getInt() == 2);
  CHECK(other.execAndGet("SELECT group_concat(name, ',') FROM customers").getString() == "Ada,Grace");
  CHECK(other.execAndGet("SELECT count(*) FROM sqlite_master").getInt() == 1);
  CHECK(other.execAndGet("PRAGMA user_version").getInt() == 0);
  CHECK(other.execAndGet("PRAGMA application_id").getInt() == 0);
}

TEST_CASE("sqlite store: refusing another application's SQLite file does not change its journal mode",
          "[sqlite]") {
  annals::test::TempDir dir;
  const std::string path = dir.file("other.db");
  {
    SQLite::Database other(path, rw);
    other.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    REQUIRE(other.execAndGet("PRAGMA journal_mode").getString() == "delete");
  }
  SqliteStoreOptions opts;
  opts.path = path;
  auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
  CHECK(e.kind() == StoreFailure::incompatible);

  // Switching to WAL is persistent (file header bytes 18-19): it would change
  // the other application's file although the store refused to use it.
  SQLite::Database other(path, SQLite::OPEN_READONLY);
  CHECK(other.execAndGet("PRAGMA journal_mode").getString() == "delete");
}

TEST_CASE("sqlite store: a store from a newer schema version is refused as incompatible", "[sqlite]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  {
    auto store = annals::open_sqlite_store(opts);
    append_ok(*store, deposit_request(acc1, 0, {1}));
  }
  {
    SQLite::Database db(opts.path, rw);
    db.exec("PRAGMA user_version=" + std::to_string(annals::sqlite_schema_version() + 1));
  }
  auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
  CHECK(e.kind() == StoreFailure::incompatible);
  CHECK_THAT(std::string(e.what()), Catch::Contains("newer") && Catch::Contains(opts.path));

  SQLite::Database db(opts.path, SQLite::OPEN_READONLY);
  CHECK(db.execAndGet("PRAGMA user_version").getInt() == annals::sqlite_schema_version() + 1);
  CHECK(db.execAndGet("SELECT count(*) FROM events").getInt() == 1);
}

TEST_CASE("sqlite store: a size cap makes appends fail as full without committing the batch", "[sqlite][full]") {
  annals::test::TempDir dir;
  auto opts = options_for(dir);
  opts.max_size_bytes = 64 * 1024;
  auto store = annals::open_sqlite_store(opts);

  const std::string blob(4000, 'z');
  auto big_batch = [&](const StreamId& s, std::int64_t expected) {
    AppendRequest r;
    r.stream = s;
    r.expected_version = expected;
    for (int i = 0; i < 2; ++i) r.events.push_back(NewEvent{"filler", 1, json::object{{"blob", blob}}});
    return r;
  };

  bool threw = false;
  std::int64_t version = 0;
  for (int round = 0; round < 100 && !threw; ++round) {
    const auto before = store->event_count();
    const auto head_before = store->head_position();
    // Each call is one batch of two appends (two streams, two events each).
    const StreamId other{"filler", "f-" + std::to_string(round)};
    try {
      auto out = store->append({big_batch(acc1, version), big_batch(other, 0)});
      REQUIRE(out.size() == 2);
      REQUIRE(out[0].has_value());
      REQUIRE(out[1].has_value());
      version += 2;
    } catch (const StoreError& e) {
      threw = true;
      INFO(e.what());
      CHECK(e.kind() == StoreFailure::full);
      // The cap is met by an insert, before COMMIT: definitely not written.
      CHECK(e.outcome() == StoreError::Outcome::not_written);
      CHECK(e.error().code == "store_unavailable");
      CHECK_THAT(std::string(e.what()), Catch::Contains("full"));
      // Nothing of the failed batch is in the store.
      CHECK(store->event_count() == before);
      CHECK(store->head_position() == head_before);
      CHECK(store->stream_version(acc1) == version);
      CHECK(store->stream_version(other) == 0);
    }
  }
  REQUIRE(threw);
  CHECK(version > 0);  // some batches fit before the cap

  // Still readable, by this connection and by a new one.
  auto evs = store->read_stream(acc1, 1, all);
  CHECK(static_cast<std::int64_t>(evs.size()) == version);
  CHECK(evs.back().data.at("blob").as_string().size() == blob.size());
  auto fresh = annals::open_sqlite_store(opts);
  CHECK(fresh->event_count() == store->event_count());
  CHECK(fresh->read_all(0, all).size() == static_cast<std::size_t>(store->event_count()));
}

TEST_CASE("sqlite store: a write lock held by another connection makes append fail as locked",
          "[sqlite][locked]") {
  annals::test::TempDir dir;
  auto opts = options_for(dir);
  opts.busy_timeout = std::chrono::milliseconds{100};
  auto store = annals::open_sqlite_store(opts);
  append_ok(*store, deposit_request(acc1, 0, {1}));

  SQLite::Database other(opts.path, rw);
  other.exec("BEGIN IMMEDIATE");

  const auto start = std::chrono::steady_clock::now();
  auto e = expect_store_error([&] { store->append({deposit_request(acc1, 1, {2})}); });
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(e.kind() == StoreFailure::locked);
  CHECK(e.outcome() == StoreError::Outcome::not_written);  // BEGIN IMMEDIATE waited, nothing was written
  CHECK(e.error().code == "store_unavailable");
  CHECK_THAT(std::string(e.what()), Catch::Contains("locked") && Catch::Contains("100 ms"));
  CHECK(waited >= std::chrono::milliseconds{90});
  CHECK(waited < std::chrono::seconds{5});

  // Reads are not blocked by a writer in WAL mode.
  CHECK(store->stream_version(acc1) == 1);

  other.exec("COMMIT");
  append_ok(*store, deposit_request(acc1, 1, {2}));
  CHECK(store->stream_version(acc1) == 2);
  CHECK(store->event_count() == 2);
}

SCENARIO("G1 a COMMIT whose fsync fails is reported as outcome_unknown, because the transaction can reappear "
         "after a restart",
         "[sqlite][commit]") {
  auto& vfs = annals::test::FaultyVfs::instance();
  GIVEN("a store that syncs the WAL at every COMMIT, with one deposit") {
    annals::test::TempDir dir;
    auto opts = options_for(dir);
    opts.vfs = annals::test::FaultyVfs::name;
    opts.durability = annals::Durability::full;
    auto store = annals::open_sqlite_store(opts);
    append_ok(*store, deposit_request(acc1, 0, {1}));
    auto second = deposit_request(acc1, 1, {2});
    second.idempotency_key = "pay-2";
    second.fingerprint = "deposit 2";

    WHEN("the fsync of the WAL fails at the COMMIT of the next append") {
      const int failed_before = vfs.wal_syncs_failed();
      vfs.fail_next_wal_syncs(1);
      auto e = expect_store_error([&] { store->append({second}); });
      vfs.fail_next_wal_syncs(0);

      THEN("the caller is told the outcome is unknown, not that nothing was written") {
        CHECK(vfs.wal_syncs_failed() == failed_before + 1);
        INFO(e.what());
        CHECK(e.outcome() == StoreError::Outcome::unknown);
        CHECK(e.error().code == "outcome_unknown");
        CHECK_THAT(std::string(e.what()), Catch::Contains(opts.path) && Catch::Contains("outcome is unknown")
                                             && Catch::Contains("retry with the same idempotency key"));
      }
      THEN("the files a crash at that moment leaves behind hold the append") {
        // This connection has rolled back and sees version 1...
        CHECK(store->stream_version(acc1) == 1);
        // ...but the WAL has the complete transaction: copy the files as a
        // SIGKILL would leave them and open the copy, as a restart would.
        const std::string crashed = dir.file("crashed.db");
        std::filesystem::copy_file(opts.path, crashed);
        std::filesystem::copy_file(opts.path + "-wal", crashed + "-wal");
        auto restarted = annals::open_sqlite_store({crashed});
        CHECK(restarted->stream_version(acc1) == 2);
        auto key = restarted->find_idempotency_key("pay-2");
        REQUIRE(key.has_value());
        CHECK(key->result.version == 2);
      }
      THEN("the same connection appends again once the fault is gone") {
        append_ok(*store, second);
        CHECK(store->stream_version(acc1) == 2);
        CHECK(annals::open_sqlite_store(opts)->event_count() == 2);
      }
    }
  }
}

TEST_CASE("sqlite store: a stored event with invalid JSON data is reported as corrupt naming its position",
          "[sqlite][corrupt]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  auto store = annals::open_sqlite_store(opts);
  append_ok(*store, deposit_request(acc1, 0, {1, 2, 3}));
  {
    SQLite::Database db(opts.path, rw);
    CHECK(db.exec("UPDATE events SET data='{broken' WHERE position=2") == 1);
  }
  auto e = expect_store_error([&] { store->read_stream(acc1, 1, all); });
  CHECK(e.kind() == StoreFailure::corrupt);
  CHECK_THAT(std::string(e.what()), Catch::Contains("event 2") && Catch::Contains("not valid JSON"));

  auto e2 = expect_store_error([&] { store->read_all(0, all); });
  CHECK(e2.kind() == StoreFailure::corrupt);
  CHECK_THAT(std::string(e2.what()), Catch::Contains("event 2"));

  // The events before and after it can still be read on their own, and the
  // connection still works after the error.
  CHECK(store->read_stream(acc1, 1, 1).size() == 1);
  CHECK(store->read_stream(acc1, 3, all).size() == 1);
  append_ok(*store, deposit_request(acc1, 3, {4}));
  CHECK(store->stream_version(acc1) == 4);
}

TEST_CASE("sqlite store: a read-only store reads but refuses appends", "[sqlite]") {
  annals::test::TempDir dir;
  auto opts = options_for(dir);
  {
    auto store = annals::open_sqlite_store(opts);
    append_ok(*store, deposit_request(acc1, 0, {7}));
  }
  opts.read_only = true;
  auto ro = annals::open_sqlite_store(opts);
  CHECK(ro->event_count() == 1);
  CHECK(ro->read_stream(acc1, 1, all).at(0).data.at("amount") == 7);
  auto e = expect_store_error([&] { ro->append({deposit_request(acc1, 1, {8})}); });
  CHECK(e.kind() == StoreFailure::read_only);
  CHECK(std::string(e.what()) == "database '" + opts.path + "' is read-only (opened read-only); cannot append");
}

TEST_CASE("sqlite store: a read-only connection leaves no -wal or -shm file behind", "[sqlite]") {
  annals::test::TempDir dir;
  auto opts = options_for(dir);
  {
    auto store = annals::open_sqlite_store(opts);
    append_ok(*store, deposit_request(acc1, 0, {7}));
  }
  REQUIRE_FALSE(std::filesystem::exists(opts.path + "-wal"));
  opts.read_only = true;
  {
    auto ro = annals::open_sqlite_store(opts);
    auto second = annals::open_sqlite_store(opts);
    CHECK(ro->event_count() == 1);
    CHECK(second->event_count() == 1);
  }
  // SQLite's read-only connections cannot remove the files they created.
  CHECK_FALSE(std::filesystem::exists(opts.path + "-wal"));
  CHECK_FALSE(std::filesystem::exists(opts.path + "-shm"));
}

TEST_CASE("sqlite store: opened read-only, a file that is not an annals store is refused and left as it was",
          "[sqlite]") {
  annals::test::TempDir dir;
  SqliteStoreOptions opts;
  opts.read_only = true;

  SECTION("an empty file is not initialized") {
    opts.path = dir.file("empty.db");
    { std::ofstream out(opts.path); }
    auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
    CHECK(e.kind() == StoreFailure::incompatible);
    CHECK(std::string(e.what()) == "database '" + opts.path
                                     + "' is not an initialized annals store (opened read-only, so it was not "
                                       "initialized)");
    CHECK(read_bytes(opts.path).empty());
  }
  SECTION("another application's SQLite file says so") {
    opts.path = dir.file("other.db");
    {
      SQLite::Database other(opts.path, rw);
      other.exec("CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT NOT NULL)");
    }
    const std::string before = read_bytes(opts.path);
    auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
    CHECK(e.kind() == StoreFailure::incompatible);
    CHECK_THAT(std::string(e.what()), Catch::Contains("is an SQLite database but not an annals store"));
    CHECK(read_bytes(opts.path) == before);
  }
  SECTION("a store of a newer version says so") {
    opts.path = dir.file("newer.db");
    {
      SqliteStoreOptions rw_opts;
      rw_opts.path = opts.path;
      annals::open_sqlite_store(rw_opts);
      SQLite::Database db(opts.path, rw);
      db.exec("PRAGMA user_version=" + std::to_string(annals::sqlite_schema_version() + 1));
    }
    auto e = expect_store_error([&] { annals::open_sqlite_store(opts); });
    CHECK(e.kind() == StoreFailure::incompatible);
    CHECK_THAT(std::string(e.what()), Catch::Contains("newer than this build of annals supports"));
  }
}

TEST_CASE("sqlite store: a provider describes its file and opens working connections", "[sqlite]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  auto provider = annals::sqlite_store(opts);
  CHECK(provider->describe() == "sqlite:" + opts.path);
  auto a = provider->connect();
  append_ok(*a, deposit_request(acc1, 0, {1}));
  CHECK(provider->connect()->event_count() == 1);
}

namespace {

annals::DeadLetter parked(const std::string& projection, std::int64_t position, const std::string& error,
                          int attempts) {
  annals::DeadLetter d;
  d.projection = projection;
  d.position = position;
  d.stream = acc1;
  d.event_type = "deposited";
  d.error = error;
  d.attempts = attempts;
  d.parked_at_us = 1'700'000'000'000'000 + position;
  return d;
}

annals::ProjectionSnapshot projection_snapshot(const std::string& projection, std::int64_t position,
                                               json::value model) {
  annals::ProjectionSnapshot s;
  s.projection = projection;
  s.position = position;
  s.snapshot_version = 1;
  s.model = std::move(model);
  s.taken_at_us = 1'700'000'000'000'000;
  return s;
}

std::vector<std::string> table_names(SQLite::Database& db) {
  std::vector<std::string> names;
  SQLite::Statement q(db, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name");
  while (q.executeStep()) names.push_back(q.getColumn(0).getString());
  return names;
}

} // namespace

TEST_CASE("sqlite store: a store of schema version 1 is migrated to the current version and keeps its events",
          "[sqlite][migration]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  {
    auto store = annals::open_sqlite_store(opts);
    append_ok(*store, deposit_request(acc1, 0, {10, 20}));
  }
  // Turn it back into what version 1 wrote.
  {
    SQLite::Database db(opts.path, rw);
    db.exec("DROP TABLE dead_letters");
    db.exec("DROP TABLE projection_snapshots");
    db.exec("DROP TABLE command_audit");
    db.exec("DROP TABLE store_users");
    db.exec("PRAGMA user_version=1");
    REQUIRE(table_names(db) == std::vector<std::string>{"events", "idempotency_keys", "snapshots"});
  }
  CHECK(annals::sqlite_schema_version() == 4);

  SECTION("opening it read-only refuses the old schema") {
    auto ro_opts = opts;
    ro_opts.read_only = true;
    auto e = expect_store_error([&] { annals::open_sqlite_store(ro_opts); });
    CHECK(e.kind() == StoreFailure::incompatible);
    CHECK_THAT(std::string(e.what()), Catch::Contains("schema version 1"));
  }
  SECTION("opening it read-write migrates it") {
    auto store = annals::open_sqlite_store(opts);
    {
      SQLite::Database db(opts.path, SQLite::OPEN_READONLY);
      CHECK(db.execAndGet("PRAGMA user_version").getInt() == 4);
      CHECK(table_names(db) == std::vector<std::string>{"command_audit", "dead_letters", "events",
                                                        "idempotency_keys", "projection_snapshots", "snapshots",
                                                        "store_users"});
    }
    // The old data is untouched.
    CHECK(store->event_count() == 2);
    CHECK(store->stream_version(acc1) == 2);
    CHECK(store->read_stream(acc1, 1, all).at(1).data.at("amount") == 20);

    // The new tables work.
    CHECK(store->dead_letters("").empty());
    store->park_event(parked("balances", 2, "boom", 3));
    auto letters = store->dead_letters("balances");
    REQUIRE(letters.size() == 1);
    CHECK(letters[0].position == 2);
    CHECK(letters[0].error == "boom");
    CHECK(letters[0].attempts == 3);
    CHECK(store->remove_dead_letter("balances", 2));
    CHECK(store->dead_letters("").empty());

    CHECK_FALSE(store->load_projection_snapshot("balances").has_value());
    store->save_projection_snapshot(projection_snapshot("balances", 2, json::object{{"acc-1", 30}}));
    auto snap = store->load_projection_snapshot("balances");
    REQUIRE(snap.has_value());
    CHECK(snap->position == 2);
    CHECK(snap->model.at("acc-1") == 30);

    append_ok(*store, deposit_request(acc1, 2, {30}));
    CHECK(store->event_count() == 3);
  }
}

TEST_CASE("sqlite store: a store of schema version 3 is read as it is, and a writer migrates it recording what the "
          "store shows used it",
          "[sqlite][migration][users]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  {
    auto store = annals::open_sqlite_store(opts);
    append_ok(*store, deposit_request(acc1, 0, {10}));
    append_ok(*store, deposit_request({"loan", "l-1"}, 0, {5}));
    store->park_event(parked("balances", 1, "boom", 3));
    store->save_projection_snapshot(projection_snapshot("daily_totals", 2, json::object{}));
    store->record_users(annals::StoreUsers{{"ignored"}, {"ignored"}});
  }
  // Turn it back into what version 3 wrote.
  {
    SQLite::Database db(opts.path, rw);
    db.exec("DROP TABLE store_users");
    db.exec("PRAGMA user_version=3");
  }

  SECTION("read-only, it is read without the record, and nothing is recorded") {
    auto ro_opts = opts;
    ro_opts.read_only = true;
    auto store = annals::open_sqlite_store(ro_opts);
    CHECK(store->event_count() == 2);
    CHECK_FALSE(store->recorded_users().has_value());
    store->record_users(annals::StoreUsers{{"account"}, {}});
    CHECK_FALSE(store->recorded_users().has_value());
    CHECK(store->aggregate_types() == std::vector<std::string>{"account", "loan"});
    SQLite::Database db(opts.path, SQLite::OPEN_READONLY);
    CHECK(db.execAndGet("PRAGMA user_version").getInt() == 3);
  }
  SECTION("a writer migrates it: its events' aggregate types and its projections' dead letters and snapshots") {
    auto store = annals::open_sqlite_store(opts);
    auto users = store->recorded_users();
    REQUIRE(users.has_value());
    CHECK(users->aggregates == std::set<std::string>{"account", "loan"});
    CHECK(users->projections == std::set<std::string>{"balances", "daily_totals"});
    store->record_users(annals::StoreUsers{{"account", "inventory"}, {"stock_levels"}});
    users = annals::open_sqlite_store(opts)->recorded_users();
    CHECK(users->aggregates == std::set<std::string>{"account", "inventory", "loan"});
    CHECK(users->projections == std::set<std::string>{"balances", "daily_totals", "stock_levels"});
  }
}

TEST_CASE("sqlite store: parked events and projection snapshots survive closing and reopening",
          "[sqlite][dead_letter][projection_snapshot]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  {
    auto store = annals::open_sqlite_store(opts);
    store->park_event(parked("balances", 5, "first", 1));
    store->park_event(parked("balances", 5, "replaced", 4));
    store->park_event(parked("audit", 3, "audit failed", 2));
    store->park_event(parked("balances", 1, "to be removed", 1));
    CHECK(store->remove_dead_letter("balances", 1));
    store->save_projection_snapshot(projection_snapshot("balances", 8, json::object{{"acc-1", 80}}));
    store->save_projection_snapshot(projection_snapshot("balances", 6, json::object{{"acc-1", 60}}));  // older
  }
  auto store = annals::open_sqlite_store(opts);
  auto letters = store->dead_letters("");
  REQUIRE(letters.size() == 2);
  CHECK(letters[0].projection == "audit");
  CHECK(letters[0].position == 3);
  CHECK(letters[0].error == "audit failed");
  CHECK(letters[1].projection == "balances");
  CHECK(letters[1].position == 5);
  CHECK(letters[1].stream == acc1);
  CHECK(letters[1].event_type == "deposited");
  CHECK(letters[1].error == "replaced");
  CHECK(letters[1].attempts == 4);
  CHECK(letters[1].parked_at_us == 1'700'000'000'000'005);
  CHECK_FALSE(store->remove_dead_letter("balances", 1));

  auto snap = store->load_projection_snapshot("balances");
  REQUIRE(snap.has_value());
  CHECK(snap->position == 8);
  CHECK(snap->snapshot_version == 1);
  CHECK(snap->model == json::value(json::object{{"acc-1", 80}}));
  CHECK(snap->taken_at_us == 1'700'000'000'000'000);

  // A read-only connection reads them too, but cannot write them.
  auto ro_opts = opts;
  ro_opts.read_only = true;
  auto ro = annals::open_sqlite_store(ro_opts);
  CHECK(ro->dead_letters("balances").size() == 1);
  CHECK(ro->load_projection_snapshot("balances")->position == 8);
  auto e1 = expect_store_error([&] { ro->park_event(parked("balances", 9, "x", 1)); });
  CHECK(e1.kind() == StoreFailure::read_only);
  auto e2 = expect_store_error(
    [&] { ro->save_projection_snapshot(projection_snapshot("balances", 9, json::object{})); });
  CHECK(e2.kind() == StoreFailure::read_only);
  auto e3 = expect_store_error([&] { ro->remove_dead_letter("balances", 5); });
  CHECK(e3.kind() == StoreFailure::read_only);
  CHECK(store->dead_letters("").size() == 2);
  CHECK(store->load_projection_snapshot("balances")->position == 8);
}

TEST_CASE("sqlite store: a projection snapshot with invalid JSON is reported as corrupt", "[sqlite][corrupt]") {
  annals::test::TempDir dir;
  const auto opts = options_for(dir);
  auto store = annals::open_sqlite_store(opts);
  store->save_projection_snapshot(projection_snapshot("balances", 3, json::object{{"acc-1", 3}}));
  {
    SQLite::Database db(opts.path, rw);
    CHECK(db.exec("UPDATE projection_snapshots SET model='{broken' WHERE projection='balances'") == 1);
  }
  auto e = expect_store_error([&] { store->load_projection_snapshot("balances"); });
  CHECK(e.kind() == StoreFailure::corrupt);
  CHECK_THAT(std::string(e.what()), Catch::Contains("balances") && Catch::Contains("not valid JSON"));
  // The connection still works, and a newer snapshot replaces the damaged one.
  store->save_projection_snapshot(projection_snapshot("balances", 4, json::object{{"acc-1", 4}}));
  CHECK(store->load_projection_snapshot("balances")->model.at("acc-1") == 4);
}
