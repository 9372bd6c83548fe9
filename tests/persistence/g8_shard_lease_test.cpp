// G8 at the store: shard leases with fencing on the shared PostgreSQL store.
// A node appends with the fence it holds (shard, node, epoch); the store
// checks it inside the append's transaction, so a node that lost its lease
// (it paused past the expiry, another node took the shard) commits nothing.

#include <annals/persistence/memory_event_store.hpp>
#include <annals/persistence/postgres_event_store.hpp>
#include <annals/persistence/sqlite_event_store.hpp>

#include "postgres_server.hpp"
#include "wait_until.hpp"

#include <catch2/catch.hpp>

#include <libpq-fe.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

namespace json = annals::json;
using namespace std::chrono_literals;
using annals::AppendRequest;
using annals::ClusterCoordination;
using annals::ClusterMember;
using annals::ShardFence;
using annals::StoreError;
using annals::StoreFailure;
using annals::StreamId;
using annals::test::PostgresServer;
using annals::test::wait_until;

namespace {

AppendRequest deposit(const StreamId& s, std::int64_t expected, std::optional<ShardFence> fence) {
  AppendRequest r;
  r.stream = s;
  r.expected_version = expected;
  r.events.push_back(annals::NewEvent{"deposited", 1, json::object{{"amount", 1}}});
  r.metadata.correlation_id = "c";
  r.metadata.causation_id = "k";
  r.fence = std::move(fence);
  return r;
}

annals::PostgresStoreOptions options_for(const std::string& url) {
  annals::PostgresStoreOptions o;
  o.url = url;
  o.connect_timeout = 2s;
  return o;
}

struct Cluster {
  std::string url = PostgresServer::shared().create_database();
  std::unique_ptr<annals::EventStore> store = annals::postgres_store(options_for(url))->connect();
  std::unique_ptr<ClusterCoordination> node_a = annals::postgres_cluster_coordination(options_for(url));
  std::unique_ptr<ClusterCoordination> node_b = annals::postgres_cluster_coordination(options_for(url));
  Cluster() { node_a->configure_shards(4); }

  annals::ShardLease lease(int shard) { return node_a->leases().at(static_cast<std::size_t>(shard)); }
};

// A stream of the given shard (of 4).
StreamId stream_in(int shard) {
  for (int i = 0;; ++i) {
    StreamId s{"account", "acc-" + std::to_string(i)};
    if (annals::shard_of(s, 4) == shard) return s;
  }
}

} // namespace

SCENARIO("G8 an append by a node whose lease was taken over commits nothing (not_owner), the new owner's commits",
         "[cluster][G8][postgres]") {
  GIVEN("node a holding shard 1 with a short lease, and one committed append") {
    Cluster c;
    const StreamId s = stream_in(1);
    auto a = c.node_a->acquire(1, "a", 300ms);
    REQUIRE(a);
    CHECK(a->epoch == 1);
    REQUIRE(c.store->append({deposit(s, 0, a)})[0]);

    WHEN("the lease expires (a is paused) and node b takes the shard") {
      REQUIRE(wait_until([&] { return c.lease(1).remaining <= 0ms; }, 5s));
      auto b = c.node_b->acquire(1, "b", 10s);
      REQUIRE(b);

      THEN("a's append with its old fence is refused, b's commits, and a's renewal finds it lost") {
        CHECK(b->epoch == 2);
        auto zombie = c.store->append({deposit(s, 1, a)});
        REQUIRE_FALSE(zombie[0]);
        CHECK(zombie[0].error().is(annals::errc::not_owner));
        CHECK_THAT(zombie[0].error().message, Catch::Contains("node 'a' no longer holds shard 1 at epoch 1")
                                                 && Catch::Contains("nothing was written"));
        CHECK(c.store->stream_version(s) == 1);
        CHECK(c.store->event_count() == 1);

        auto owner = c.store->append({deposit(s, 1, b)});
        REQUIRE(owner[0]);
        CHECK(owner[0]->events.at(0).position == 2);
        CHECK(c.node_a->renew("a", 10s).empty());
        CHECK(c.lease(1).owner == "b");
      }
    }
  }
}

SCENARIO("G8 an expired lease fences its holder even when nobody took the shard yet", "[cluster][G8][postgres]") {
  Cluster c;
  const StreamId s = stream_in(2);
  auto a = c.node_a->acquire(2, "a", 200ms);
  REQUIRE(a);
  REQUIRE(wait_until([&] { return c.lease(2).remaining <= 0ms; }, 5s));
  auto late = c.store->append({deposit(s, 0, a)});
  REQUIRE_FALSE(late[0]);
  CHECK(late[0].error().is(annals::errc::not_owner));
  CHECK(c.store->event_count() == 0);
  CHECK(c.node_a->renew("a", 10s).empty());  // expired leases are lost, not renewed
}

SCENARIO("G8 a batch with a fenced-out append commits the batch's other appends, positions dense",
         "[cluster][G8][postgres]") {
  Cluster c;
  auto a1 = c.node_a->acquire(1, "a", 10s);
  auto a3 = c.node_a->acquire(3, "a", 10s);
  REQUIRE(a1);
  REQUIRE(a3);
  ShardFence stale = *a3;
  stale.epoch -= 1;  // a fence of an earlier holding
  auto out = c.store->append({deposit(stream_in(1), 0, a1), deposit(stream_in(3), 0, stale),
                              deposit(stream_in(1), 1, a1)});
  REQUIRE(out.size() == 3);
  REQUIRE(out[0]);
  CHECK(out[1].error().is(annals::errc::not_owner));
  REQUIRE(out[2]);
  CHECK(out[0]->events[0].position == 1);
  CHECK(out[2]->events[0].position == 2);
  CHECK(c.store->head_position() == 2);
}

SCENARIO("G8 a takeover cannot pass an append that holds the lease row (the check is inside the transaction)",
         "[cluster][G8][postgres]") {
  GIVEN("an expired lease of node a whose row an open transaction holds FOR SHARE, as an append does") {
    Cluster c;
    auto a = c.node_a->acquire(0, "a", 200ms);
    REQUIRE(a);
    PGconn* raw = PQconnectdb(c.url.c_str());
    REQUIRE(PQstatus(raw) == CONNECTION_OK);
    PQclear(PQexec(raw, "BEGIN"));
    PGresult* held = PQexec(raw, "SELECT 1 FROM shard_leases WHERE shard = 0 FOR SHARE");
    REQUIRE(PQresultStatus(held) == PGRES_TUPLES_OK);
    PQclear(held);
    REQUIRE(wait_until([&] { return c.lease(0).remaining <= 0ms; }, 5s));

    WHEN("node b tries to take the shard with a short lock timeout") {
      auto opts = options_for(c.url);
      opts.lock_timeout = 300ms;
      auto b = annals::postgres_cluster_coordination(opts);
      THEN("it waits for that transaction and gives up as locked; after its COMMIT it takes the shard") {
        try {
          b->acquire(0, "b", 10s);
          FAIL("the takeover passed a held lease row");
        } catch (const StoreError& e) {
          CHECK(e.kind() == StoreFailure::locked);
        }
        PQclear(PQexec(raw, "COMMIT"));
        auto taken = b->acquire(0, "b", 10s);
        REQUIRE(taken);
        CHECK(taken->epoch == 2);
      }
    }
    PQfinish(raw);
  }
}

SCENARIO("G8 leases: held ones cannot be taken, renewal keeps the epoch, a handed back shard is free at once",
         "[cluster][G8][postgres]") {
  Cluster c;
  auto a = c.node_a->acquire(3, "a", 10s);
  REQUIRE(a);
  CHECK_FALSE(c.node_b->acquire(3, "b", 10s));
  auto renewed = c.node_a->renew("a", 10s);
  REQUIRE(renewed.size() == 1);
  CHECK(renewed[0] == *a);
  CHECK(c.lease(3).remaining > 5s);
  CHECK(c.node_a->release(*a));
  CHECK_FALSE(c.node_a->release(*a));  // no longer a's
  auto b = c.node_b->acquire(3, "b", 10s);
  REQUIRE(b);
  CHECK(b->epoch == a->epoch + 1);
  // Taking one's own shard again (a restarted node of the same name) fences the old process too.
  auto again = c.node_b->acquire(3, "b", 10s);
  REQUIRE(again);
  CHECK(again->epoch == b->epoch + 1);
  auto old = c.store->append({deposit(stream_in(3), 0, b)});
  CHECK(old[0].error().is(annals::errc::not_owner));
}

SCENARIO("cluster: a node configured with another shard count than the cluster's is refused", "[cluster][postgres]") {
  Cluster c;  // set up with 4
  c.node_b->configure_shards(4);  // the same count: fine
  try {
    c.node_b->configure_shards(8);
    FAIL("another shard count was accepted");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreFailure::incompatible);
    CHECK_THAT(std::string(e.what()), Catch::Contains("has 4 shards, this node is configured with 8")
                                        && Catch::Contains("set shard_count to 4"));
  }
  CHECK(c.node_a->leases().size() == 4);
}

SCENARIO("cluster: membership by the database's clock — join, heartbeat, a name in use, a rejoin, leave",
         "[cluster][postgres]") {
  Cluster c;
  ClusterMember a{"a", "127.0.0.1:7001", "127.0.0.1:8001", 0, 0ms, false};
  const auto first = c.node_a->join(a, 2s);
  CHECK(first == 1);
  CHECK(c.node_a->heartbeat("a", first));

  // Another process claiming the name from another address while a is alive.
  ClusterMember impostor{"a", "127.0.0.1:7999", "", 0, 0ms, false};
  try {
    c.node_b->join(impostor, 2s);
    FAIL("a live member's name was taken");
  } catch (const StoreError& e) {
    CHECK(e.kind() == StoreFailure::incompatible);
    CHECK_THAT(std::string(e.what()), Catch::Contains("node name 'a' is in use by a live member of the cluster at"
                                                      " 127.0.0.1:7001")
                                        && Catch::Contains("give this node another name"));
  }

  // a restarted at its address (the old process is gone: the new one bound the port).
  const auto second = c.node_b->join(a, 2s);
  CHECK(second == 2);
  CHECK_FALSE(c.node_a->heartbeat("a", first));  // the old incarnation learns it was replaced
  CHECK(c.node_b->heartbeat("a", second));

  c.node_b->leave("a", second);
  auto members = c.node_a->members();
  REQUIRE(members.size() == 1);
  CHECK(members[0].left);
  CHECK(members[0].incarnation == 2);
  CHECK(members[0].address == "127.0.0.1:7001");
  CHECK(members[0].http_address == "127.0.0.1:8001");
  CHECK_FALSE(c.node_b->heartbeat("a", second));  // gone is gone
  // After leaving, the name is free for any address.
  CHECK(c.node_a->join(impostor, 2s) == 3);
}

SCENARIO("G8 stores that cannot check leases refuse fenced appends instead of ignoring the fence", "[cluster][G8]") {
  const auto dir = std::filesystem::temp_directory_path() / ("annals-g8-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  annals::SqliteStoreOptions so;
  so.path = (dir / "one.db").string();
  std::vector<std::shared_ptr<annals::EventStoreProvider>> stores = {annals::memory_store(),
                                                                     annals::sqlite_store(so)};
  for (auto& provider : stores) {
    auto store = provider->connect();
    auto out = store->append({deposit({"account", "x"}, 0, ShardFence{0, "a", 1}), deposit({"account", "y"}, 0, {})});
    REQUIRE_FALSE(out[0]);
    CHECK(out[0].error().is(annals::errc::not_owner));
    CHECK_THAT(out[0].error().message, Catch::Contains("clustered nodes need the PostgreSQL store"));
    CHECK(out[1]);  // an unfenced append of the same batch commits
    CHECK(store->event_count() == 1);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("shard_of is stable across builds and spreads streams evenly", "[cluster]") {
  // Pinned: every node of a cluster, of any build, must agree (the stored
  // leases and streams depend on it).
  CHECK(annals::shard_of({"account", "acc-1"}, 64) == annals::shard_of({"account", "acc-1"}, 64));
  CHECK(annals::shard_of({"account", "x"}, 1) == 0);
  CHECK(annals::shard_of({"ab", "c"}, 1 << 30) != annals::shard_of({"a", "bc"}, 1 << 30));
  // FNV-1a 64 of "account" 0xFF "acc-1", computed independently (Python:
  // h=0xcbf29ce484222325; for b in b"account\xffacc-1": h=((h^b)*0x100000001b3)%2**64).
  CHECK(annals::shard_of({"account", "acc-1"}, 1000003) == 941899);
  std::map<int, int> per_shard;
  for (int i = 0; i < 64000; ++i) ++per_shard[annals::shard_of({"account", "acc-" + std::to_string(i)}, 64)];
  REQUIRE(per_shard.size() == 64);
  for (const auto& [shard, n] : per_shard) {
    INFO("shard " << shard);
    CHECK(n > 800);
    CHECK(n < 1200);
  }
}
