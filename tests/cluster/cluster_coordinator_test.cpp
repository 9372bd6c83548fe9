// The coordinator: a node's membership and lease rounds on a thread of its
// own. Nodes here are coordinators in one process on the tests' PostgreSQL
// server; a "killed" node is one abandoned (its rounds stop, nothing handed
// back), a clean stop hands its shards back.

#include <annals/cluster/cluster_coordinator.hpp>
#include <annals/cluster/rendezvous.hpp>
#include <annals/persistence/postgres_event_store.hpp>

#include "postgres_server.hpp"
#include "wait_until.hpp"

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

using namespace annals;
using namespace annals::cluster;
using namespace std::chrono_literals;
using annals::test::PostgresServer;
using annals::test::wait_until;

namespace {

std::unique_ptr<ClusterCoordinator> node(const std::string& url, const std::string& name, int port,
                                         std::chrono::milliseconds ttl = 1200ms, int shards = 12) {
  CoordinatorSettings s;
  s.me.node = name;
  s.me.address = "127.0.0.1:" + std::to_string(port);
  s.leases.shard_count = shards;
  s.leases.ttl = ttl;
  s.leases.max_releases_per_round = 3;
  auto open = [url] {
    PostgresStoreOptions o;
    o.url = url;
    o.connect_timeout = 2s;
    return postgres_cluster_coordination(o);
  };
  return std::make_unique<ClusterCoordinator>(open, s, nullptr);
}

bool spread_over(const std::vector<ClusterCoordinator*>& nodes, int shards) {
  std::vector<std::string> names;
  for (auto* n : nodes) names.push_back(n->leases().node());
  for (auto* n : nodes)
    if (n->leases().held() != rendezvous_shards(n->leases().node(), names, shards)) return false;
  return true;
}

} // namespace

SCENARIO("G8 three nodes spread the shards, a killed node's shards are taken over within ttl plus a round, "
         "it rejoins and they spread again", "[cluster][G8][postgres]") {
  const std::string url = PostgresServer::shared().create_database();
  auto a = node(url, "a", 7001), b = node(url, "b", 7002), c = node(url, "c", 7003);
  REQUIRE(wait_until([&] { return spread_over({a.get(), b.get(), c.get()}, 12); }, 20s));
  CHECK(a->live_members() == std::vector<std::string>{"a", "b", "c"});

  c->abandon();  // kill -9: no goodbye, no hand-back
  const auto killed = std::chrono::steady_clock::now();
  REQUIRE(wait_until([&] { return spread_over({a.get(), b.get()}, 12); }, 20s));
  const auto took = std::chrono::steady_clock::now() - killed;
  // ttl 1200 ms, rounds every 400 ms: the member timeout (ttl), then the
  // leases' expiry, then the next round.
  INFO("takeover took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
  CHECK(took < 1200ms + 1200ms + 400ms + 1000ms);

  c = node(url, "c", 7003);  // restarted at its address: a new incarnation
  CHECK(c->incarnation() == 2);
  REQUIRE(wait_until([&] { return spread_over({a.get(), b.get(), c.get()}, 12); }, 20s));

  b->stop();  // a clean stop hands back at once: far sooner than the ttl
  REQUIRE(wait_until([&] { return spread_over({a.get(), c.get()}, 12); }, 20s));
}

SCENARIO("A node is refused at start when its name is in use by a live member or its shard count differs",
         "[cluster][postgres]") {
  const std::string url = PostgresServer::shared().create_database();
  auto a = node(url, "a", 7001);
  try {
    node(url, "a", 7999);
    FAIL("a second live node named 'a' started");
  } catch (const StoreError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("node name 'a' is in use by a live member"));
  }
  try {
    node(url, "b", 7002, 1200ms, 24);
    FAIL("a node with another shard count started");
  } catch (const StoreError& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("has 12 shards, this node is configured with 24"));
  }
  CHECK(a->live_members() == std::vector<std::string>{"a"});
}
