// The lease manager: rounds of "renew, then move toward the rendezvous
// spread", on the real lease table of the shared PostgreSQL store. The test
// drives the rounds itself (a node's coordinator does it on a timer), so a
// "killed" node is one whose rounds stop.

#include <annals/cluster/rendezvous.hpp>
#include <annals/cluster/shard_lease_manager.hpp>
#include <annals/persistence/postgres_event_store.hpp>

#include "postgres_server.hpp"
#include "wait_until.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

using namespace annals;
using namespace annals::cluster;
using namespace std::chrono_literals;
using annals::test::PostgresServer;
using annals::test::wait_until;

namespace {

PostgresStoreOptions pg(const std::string& url) {
  PostgresStoreOptions o;
  o.url = url;
  o.connect_timeout = 2s;
  return o;
}

struct Node {
  std::unique_ptr<ClusterCoordination> table;
  std::unique_ptr<ShardLeaseManager> leases;
  Node(const std::string& url, const std::string& name, LeaseSettings s)
    : table(postgres_cluster_coordination(pg(url))),
      leases(std::make_unique<ShardLeaseManager>(name, *table, s, nullptr)) {
    table->configure_shards(s.shard_count);
  }
};

LeaseSettings settings(std::chrono::milliseconds ttl) {
  LeaseSettings s;
  s.shard_count = 16;
  s.ttl = ttl;
  s.max_releases_per_round = 2;
  return s;
}

std::vector<int> all_shards(int n) {
  std::vector<int> v;
  for (int i = 0; i < n; ++i) v.push_back(i);
  return v;
}

} // namespace

TEST_CASE("rendezvous hashing: one owner per shard, and a member change moves only its share", "[cluster]") {
  const std::vector<std::string> three = {"a", "b", "c"}, four = {"a", "b", "c", "d"};
  constexpr int shards = 256;
  std::map<std::string, int> per_node;
  int moved_on_join = 0;
  for (int s = 0; s < shards; ++s) {
    const std::string before = rendezvous_owner(s, three), after = rendezvous_owner(s, four);
    ++per_node[before];
    // Order of the member list does not matter: every node computes the same.
    CHECK(rendezvous_owner(s, {"c", "a", "b"}) == before);
    // A join only moves shards to the new member.
    if (before != after) {
      CHECK(after == "d");
      ++moved_on_join;
    }
    // A leave only moves the leaver's shards.
    const std::string without_b = rendezvous_owner(s, {"a", "c"});
    if (before != "b") CHECK(without_b == before);
  }
  for (const auto& [node, n] : per_node) {
    INFO(node);
    CHECK(n > shards / 3 - 30);
    CHECK(n < shards / 3 + 30);
  }
  CHECK(moved_on_join > shards / 4 - 25);
  CHECK(moved_on_join < shards / 4 + 25);
  CHECK(rendezvous_owner(0, {}).empty());
}

SCENARIO("G8 shard leases move toward the spread a few per round, and a stopped node's shards are taken over "
         "after its leases expire, not before", "[cluster][G8][postgres]") {
  GIVEN("node a alone: it takes every shard") {
    const std::string url = PostgresServer::shared().create_database();
    const auto ttl = 1500ms;
    Node a(url, "a", settings(ttl)), b(url, "b", settings(ttl));
    auto first = a.leases->run_round({"a"});
    CHECK(first.acquired == all_shards(16));
    CHECK(a.leases->held() == all_shards(16));

    WHEN("b joins: both run rounds over the members {a, b}") {
      const std::vector<std::string> both = {"a", "b"};
      const auto b_targets = rendezvous_shards("b", both, 16);
      REQUIRE(b_targets.size() >= 3);  // enough for a spread of several rounds
      int rounds = 0;
      while (b.leases->held() != b_targets && rounds < 20) {
        auto ra = a.leases->run_round(both);
        CHECK(ra.released.size() <= 2);  // no storm: a few per round
        CHECK(ra.lost.empty());
        b.leases->run_round(both);
        ++rounds;
      }
      THEN("they reach the rendezvous spread, moving at most 2 shards per round") {
        CHECK(b.leases->held() == b_targets);
        CHECK(a.leases->held() == rendezvous_shards("a", both, 16));
        CHECK(rounds >= static_cast<int>((b_targets.size() + 1) / 2));
        CHECK(a.leases->counters().releases == b_targets.size());
        CHECK(b.leases->owner_of(b_targets[0]) == "b");
      }

      AND_WHEN("a stops renewing (killed) and b goes on alone") {
        const auto a_shards = rendezvous_shards("a", both, 16);
        while (b.leases->held() != b_targets || a.leases->held() != a_shards) {
          a.leases->run_round(both);
          b.leases->run_round(both);
        }
        const auto last_renewal = std::chrono::steady_clock::now();
        a.leases->run_round(both);  // a's last round
        // b sees a gone (its heartbeat aged) at once: the worst case for fencing.
        THEN("a's own view ends first, b takes a's shards only after they expired, within ttl plus a round") {
          bool a_view_ended_while_store_held = false;
          REQUIRE(wait_until([&] {
            if (a.leases->held().empty()) {
              for (const auto& l : b.table->leases())
                if (l.owner == "a" && l.remaining > 0ms) a_view_ended_while_store_held = true;
              return true;
            }
            return false;
          }, 5s, 1ms));
          CHECK(a_view_ended_while_store_held);
          REQUIRE(wait_until([&] {
            auto r = b.leases->run_round({"b"});
            for (int s : r.acquired) {
              // Taken only once expired: never while a could still write.
              CHECK(std::chrono::steady_clock::now() - last_renewal >= ttl - 100ms);
              (void)s;
            }
            return b.leases->held() == all_shards(16);
          }, 10s, 50ms));
          const auto took = std::chrono::steady_clock::now() - last_renewal;
          CHECK(took <= ttl + settings(ttl).interval() + 1s);
          CHECK(b.leases->counters().acquisitions == 16);
          // a comes back (it was only paused): its renewal finds every lease lost.
          auto back = a.leases->run_round(both);
          CHECK(back.renewed.empty());
          CHECK(back.lost == a_shards);
          CHECK(a.leases->held().empty());
        }
      }
    }
  }
}

SCENARIO("A node that shuts down cleanly hands its shards back: the others take them at once, not after the ttl",
         "[cluster][postgres]") {
  const std::string url = PostgresServer::shared().create_database();
  const auto ttl = 60s;  // a takeover after expiry would not come within the test's bound
  Node a(url, "a", settings(ttl)), b(url, "b", settings(ttl));
  a.leases->run_round({"a"});
  REQUIRE(a.leases->held().size() == 16);
  a.leases->release_all();
  CHECK(a.leases->held().empty());
  CHECK_FALSE(a.leases->fence_of(0));
  auto r = b.leases->run_round({"b"});
  CHECK(r.acquired == all_shards(16));
  CHECK(a.leases->counters().releases == 16);
}
