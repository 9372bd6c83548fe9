// G8 in the runtime: on a clustered node every append carries the fence of
// its stream's shard. A node that does not hold the shard fails the command
// with not_owner without trying; a node that believes it holds it but whose
// lease was taken over (it was paused past the expiry) has its append
// refused inside the store's transaction: nothing committed, the aggregate
// stopped, the refusal counted. The leases are real rows of the shared
// PostgreSQL store; the node's view of them is the test's (a lease manager's
// view that lags, as a paused process's does).

#include "postgres_server.hpp"
#include "runtime_fixture.hpp"

#include <annals/persistence/postgres_event_store.hpp>

#include <catch2/catch.hpp>

#include <mutex>
#include <optional>

using namespace annals;
using namespace annals::test;
using namespace std::chrono_literals;

namespace {

// What a node believes it holds: one fence for every shard, set by the test.
class BelievedOwnership final : public ShardOwnership {
public:
  int shard_count() const override { return 4; }
  std::optional<ShardFence> fence_for(const StreamId& s) const override {
    std::lock_guard<std::mutex> lock(mtx_);
    auto it = fences_.find(shard_of(s, 4));
    if (it == fences_.end()) return std::nullopt;
    return it->second;
  }
  void hold(const ShardFence& f) {
    std::lock_guard<std::mutex> lock(mtx_);
    fences_[f.shard] = f;
  }
  void drop(int shard) {
    std::lock_guard<std::mutex> lock(mtx_);
    fences_.erase(shard);
  }

private:
  mutable std::mutex mtx_;
  std::map<int, ShardFence> fences_;
};

PostgresStoreOptions pg(const std::string& url) {
  PostgresStoreOptions o;
  o.url = url;
  o.connect_timeout = 2s;
  return o;
}

} // namespace

SCENARIO("G8 a node whose lease was taken over while it was paused commits nothing: not_owner, counted, "
         "and the aggregate stops", "[cluster][G8][postgres]") {
  GIVEN("node a's runtime holding shard s of account 'acc' (epoch 1), with one deposit committed") {
    const std::string url = PostgresServer::shared().create_database();
    auto leases_a = postgres_cluster_coordination(pg(url));
    auto leases_b = postgres_cluster_coordination(pg(url));
    leases_a->configure_shards(4);
    const int s = shard_of({"account", "acc"}, 4);
    // Long enough for any machine; the test ends it itself below (as time would).
    auto fence_a = leases_a->acquire(s, "a", 60s);
    REQUIRE(fence_a);
    auto ownership = std::make_shared<BelievedOwnership>();
    ownership->hold(*fence_a);

    RuntimeOptions o;
    o.store = postgres_store(pg(url));
    o.command_timeout = 20s;
    o.shard_ownership = ownership;
    Runtime rt(std::move(o));
    rt.register_aggregate(bank::account_type());
    REQUIRE(rt.execute(open_account("acc")).accepted());
    REQUIRE(rt.execute(deposit("acc", 10)).accepted());
    REQUIRE(rt.active_aggregates() == 1);

    WHEN("a's lease expires unrenewed, node b takes the shard, and a (still believing) runs a command") {
      // a sleeps past its lease: the lease's expiry comes, a renews nothing.
      const std::string db = url.substr(url.rfind('/') + 1);
      PostgresServer::shared().exec(db, "UPDATE shard_leases SET expires_at = clock_timestamp() WHERE shard = "
                                          + std::to_string(s));
      REQUIRE(wait_until([&] { return leases_b->leases().at(static_cast<std::size_t>(s)).remaining <= 0ms; }, 10s));
      auto fence_b = leases_b->acquire(s, "b", 30s);
      REQUIRE(fence_b);
      const CommandResult zombie = rt.execute(deposit("acc", 5));

      THEN("it fails with not_owner, nothing is committed, the refusal is counted and the aggregate stops") {
        CHECK_FALSE(zombie.accepted());
        REQUIRE(zombie.error);
        CHECK(zombie.error->code == "not_owner");
        CHECK_THAT(zombie.error->message, Catch::Contains("no longer holds shard " + std::to_string(s)));
        CHECK(rt.read_stream({"account", "acc"}).size() == 2);
        CHECK(rt.head_position() == 2);
        CHECK(rt.metrics().aggregates.at(0).fenced_appends == 1);
        CHECK(wait_until([&] { return rt.active_aggregates() == 0; }, 10s));
      }
    }

    WHEN("a's lease manager has dropped the shard (renewal failed)") {
      ownership->drop(s);
      const CommandResult refused = rt.execute(deposit("acc", 5));
      THEN("the command fails with not_owner without an append, and the aggregate stops") {
        REQUIRE(refused.error);
        CHECK(refused.error->code == "not_owner");
        CHECK_THAT(refused.error->message, Catch::Contains("this node does not hold shard"));
        CHECK(rt.head_position() == 2);
        CHECK(rt.metrics().aggregates.at(0).fenced_appends == 1);
        CHECK(wait_until([&] { return rt.active_aggregates() == 0; }, 10s));
      }
    }
  }
}
