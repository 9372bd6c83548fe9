// G8: a node stops the aggregates of the shards it no longer holds, so state
// that another node may now change is never used again — when it hands
// shards to a member that joined, and when its renewals fail, before its
// leases can expire in the store.

#include <annals/cluster/cluster_coordinator.hpp>
#include <annals/cluster/cluster_node.hpp>
#include <annals/persistence/postgres_event_store.hpp>
#include <annals/persistence/store_error.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include "bank_commands.hpp"
#include "postgres_server.hpp"
#include "wait_until.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

using namespace annals;
using namespace annals::cluster;
using namespace annals::test;
using namespace std::chrono_literals;

namespace {

PostgresStoreOptions pg(const std::string& url) {
  PostgresStoreOptions o;
  o.url = url;
  o.connect_timeout = 2s;
  return o;
}

// The shared database's coordination session, with a switch that makes it
// unreachable (every call throws as a lost connection would).
class SwitchableCoordination final : public ClusterCoordination {
public:
  SwitchableCoordination(std::unique_ptr<ClusterCoordination> real, std::shared_ptr<std::atomic<bool>> down)
    : real_(std::move(real)), down_(std::move(down)) {}

  void configure_shards(int n) override { check(), real_->configure_shards(n); }
  std::optional<ShardFence> acquire(int shard, const std::string& node, std::chrono::milliseconds ttl) override {
    return check(), real_->acquire(shard, node, ttl);
  }
  std::vector<ShardFence> renew(const std::string& node, std::chrono::milliseconds ttl) override {
    return check(), real_->renew(node, ttl);
  }
  bool release(const ShardFence& fence) override { return check(), real_->release(fence); }
  std::vector<ShardLease> leases() override { return check(), real_->leases(); }
  std::int64_t join(const ClusterMember& me, std::chrono::milliseconds alive_within) override {
    return check(), real_->join(me, alive_within);
  }
  bool heartbeat(const std::string& node, std::int64_t incarnation) override {
    return check(), real_->heartbeat(node, incarnation);
  }
  void leave(const std::string& node, std::int64_t incarnation) override { check(), real_->leave(node, incarnation); }
  std::vector<ClusterMember> members() override { return check(), real_->members(); }

private:
  void check() const {
    if (*down_) throw StoreError(StoreFailure::unavailable, "the database cannot be reached (test switch)");
  }
  std::unique_ptr<ClusterCoordination> real_;
  std::shared_ptr<std::atomic<bool>> down_;
};

// Ends a node's or coordinator's use of a runtime before the runtime goes
// (declared after it), also when a check fails.
template <class F>
struct Finally {
  F f;
  ~Finally() { f(); }
};
template <class F>
Finally(F) -> Finally<F>;

std::vector<std::string> accounts(int n) {
  std::vector<std::string> ids;
  for (int i = 0; i < n; ++i) ids.push_back("acc-" + std::to_string(i));
  return ids;
}

} // namespace

SCENARIO("G8 a node whose lease renewals fail stops its shards' aggregates before the leases can expire in the store",
         "[cluster][G8][postgres]") {
  const std::string url = PostgresServer::shared().create_database();
  GIVEN("a coordinator holding all 4 shards (ttl 1.5 s) and a runtime with 12 live accounts") {
    auto down = std::make_shared<std::atomic<bool>>(false);
    CoordinatorSettings s;
    s.me.node = "a";
    s.me.address = "127.0.0.1:1";
    s.leases.shard_count = 4;
    s.leases.ttl = 1500ms;
    s.leases.safety_margin = 500ms;  // a loaded machine's scheduling delays stay inside it
    ClusterCoordinator coordinator(
      [url, down] { return std::make_unique<SwitchableCoordination>(postgres_cluster_coordination(pg(url)), down); }, s,
      nullptr);
    RuntimeOptions o;
    o.store = postgres_store(pg(url));
    o.shard_ownership = coordinator.ownership();
    Runtime rt(o);
    rt.register_aggregate(bank::account_type());
    coordinator.on_shards_left([&rt](const std::vector<int>& shards) { rt.stop_aggregates_of_shards(shards); });
    Finally unhook{[&] { coordinator.on_shards_left(nullptr); }};
    for (const auto& id : accounts(12)) REQUIRE(rt.execute(open_account(id)).accepted());
    REQUIRE(rt.active_aggregates() == 12);

    WHEN("the database becomes unreachable for the coordinator") {
      auto observer = postgres_cluster_coordination(pg(url));
      *down = true;
      std::vector<ShardLease> leases_when_stopped;
      const bool stopped = wait_until([&] {
        if (rt.active_aggregates() != 0) return false;
        leases_when_stopped = observer->leases();
        return true;
      }, 10s, 5ms);

      THEN("every aggregate has stopped while the store still shows a's leases valid, and a writes nothing") {
        REQUIRE(stopped);
        REQUIRE(leases_when_stopped.size() == 4);
        for (const auto& l : leases_when_stopped) {
          INFO("shard " << l.shard << " owner '" << l.owner << "' remaining " << l.remaining.count() << " ms");
          CHECK(l.owner == "a");
          CHECK(l.remaining > 0ms);
        }
        const auto late = rt.execute(deposit("acc-1", 5));
        CHECK(late.code() == "not_owner");
        CHECK(rt.read_stream({"account", "acc-1"}).size() == 1);
      }
    }
  }
}

SCENARIO("G8 a node that hands shards to a member that joined stops those shards' aggregates, and commands for them "
         "run on the new owner with its state",
         "[cluster][G8][postgres][forwarding]") {
  const std::string url = PostgresServer::shared().create_database();
  auto options = [&](const std::string& name) {
    NodeOptions o;
    o.cluster = "test";
    o.node = name;
    o.store = pg(url);
    o.leases.shard_count = 8;
    o.leases.ttl = 1200ms;
    o.heartbeat_interval = 100ms;
    o.connection_timeout = 1000ms;
    return o;
  };
  RuntimeOptions base;
  base.command_timeout = 20s;
  GIVEN("node a alone, holding all 8 shards, with 24 live accounts") {
    ClusterNode a(options("a"));
    Runtime rt_a(a.runtime_options(base));
    rt_a.register_aggregate(bank::account_type());
    a.serve(rt_a);
    Finally stop_a{[&] { a.stop(); }};
    REQUIRE(wait_until([&] { return a.coordinator().leases().held().size() == 8; }, 10s));
    for (const auto& id : accounts(24)) REQUIRE(rt_a.execute(open_account(id)).accepted());
    REQUIRE(rt_a.active_aggregates() == 24);

    WHEN("node b joins and the shards spread") {
      ClusterNode b(options("b"));
      Runtime rt_b(b.runtime_options(base));
      rt_b.register_aggregate(bank::account_type());
      b.serve(rt_b);
      Finally stop_b{[&] { b.stop(); }};
      REQUIRE(wait_until([&] {
        const auto at_a = a.coordinator().leases().held().size(), at_b = b.coordinator().leases().held().size();
        return at_a + at_b == 8 && at_b > 0 && at_a > 0;
      }, 20s));
      std::size_t staying = 0;
      for (const auto& id : accounts(24))
        if (a.coordinator().leases().fence_for({"account", id})) ++staying;

      THEN("a keeps only the aggregates of its shards, and a deposit through a lands once on b's fresh state") {
        REQUIRE(staying < 24);
        CHECK(wait_until([&] { return rt_a.active_aggregates() == staying; }, 5s));
        std::string moved;
        for (const auto& id : accounts(24))
          if (b.coordinator().leases().fence_for({"account", id})) moved = id;
        REQUIRE(!moved.empty());
        const auto r = rt_a.execute(deposit(moved, 7));
        INFO((r.error ? r.error->message : "accepted"));
        REQUIRE(r.accepted());
        CHECK(r.version == 2);
        CHECK(rt_b.inspect("account", moved)->state.as_object().at("balance").as_int64() == 7);
      }
    }
  }
}
