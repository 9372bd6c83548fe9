#pragma once
// The backends the event store contract (event_store_contract_test.cpp) runs
// against. A backend joins with a traits struct that opens a fresh, empty
// store, and its name in ANNALS_STORE_BACKENDS: every contract test then runs
// for it too, as its own ctest test ("event store: ... - SqliteBackend").

#include <annals/persistence/event_store.hpp>
#include <annals/persistence/memory_event_store.hpp>
#include <annals/persistence/postgres_event_store.hpp>
#include <annals/persistence/sqlite_event_store.hpp>

#include "postgres_server.hpp"
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstddef>
#include <memory>
#include <string>

namespace annals::test {

/// What a contract test may ask of a backend besides its defaults.
struct StoreOptions {
  std::size_t max_event_bytes = 1 << 20;
};

/// One store under test. The directory (when the backend needs one) outlives
/// the provider: members are destroyed in reverse order.
struct StoreUnderTest {
  std::unique_ptr<TempDir> dir;
  std::shared_ptr<EventStoreProvider> provider;

  std::unique_ptr<EventStore> connect() const { return provider->connect(); }
};

struct MemoryBackend {
  static StoreUnderTest open(const StoreOptions& o) {
    MemoryStoreOptions mo;
    mo.max_event_bytes = o.max_event_bytes;
    return StoreUnderTest{nullptr, memory_store(mo)};
  }
};

struct SqliteBackend {
  static StoreUnderTest open(const StoreOptions& o) {
    StoreUnderTest s;
    s.dir = std::make_unique<TempDir>();
    SqliteStoreOptions so;
    so.path = s.dir->file("events.db");
    so.max_event_bytes = o.max_event_bytes;
    s.provider = sqlite_store(so);
    return s;
  }
};

// A database of its own on the tests' PostgreSQL server (postgres_server.hpp).
struct PostgresBackend {
  static StoreUnderTest open(const StoreOptions& o) {
    PostgresStoreOptions po;
    po.url = PostgresServer::shared().create_database();
    po.max_event_bytes = o.max_event_bytes;
    return StoreUnderTest{nullptr, postgres_store(po)};
  }
};

} // namespace annals::test

// Unqualified, so that test names read "... - SqliteBackend".
using annals::test::MemoryBackend;
using annals::test::PostgresBackend;
using annals::test::SqliteBackend;
#define ANNALS_STORE_BACKENDS MemoryBackend, SqliteBackend, PostgresBackend

/// A contract test case, run once per backend; in its body, TestType is the
/// backend: `auto s = TestType::open({});`.
#define STORE_CONTRACT_TEST(name, tags) TEMPLATE_TEST_CASE(name, tags, ANNALS_STORE_BACKENDS)
