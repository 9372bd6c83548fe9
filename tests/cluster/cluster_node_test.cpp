// ClusterNode: a node's transport, membership, leases and runtime together.
// Two nodes run in this process on the tests' PostgreSQL server, each with
// its own runtime, talking over the real transport on loopback. A "killed"
// node is abandoned: no hand-back, no goodbye, its transport gone.
// (Processes killed with SIGKILL and paused with SIGSTOP: tests/cluster's
// multi-process tests.)

#include <annals/cluster/cluster_node.hpp>
#include <annals/runtime.hpp>
#include <bank/account.hpp>

#include "bank_commands.hpp"
#include "postgres_server.hpp"
#include "wait_until.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

using namespace annals;
using namespace annals::cluster;
using namespace annals::test;
using namespace std::chrono_literals;

namespace {

NodeOptions node_options(const std::string& url, const std::string& name, int shards = 8) {
  NodeOptions o;
  o.cluster = "test";
  o.node = name;
  o.store.url = url;
  o.store.connect_timeout = 2s;
  o.leases.shard_count = shards;
  o.leases.ttl = 1200ms;
  o.heartbeat_interval = 100ms;
  o.connection_timeout = 1000ms;
  return o;
}

// A node and the runtime it serves, stopped in that order.
struct Node {
  std::unique_ptr<ClusterNode> node;
  std::unique_ptr<Runtime> runtime;

  Node(const std::string& url, const std::string& name) : node(std::make_unique<ClusterNode>(node_options(url, name))) {
    RuntimeOptions o;
    o.command_timeout = 20s;
    runtime = std::make_unique<Runtime>(node->runtime_options(o));
    runtime->register_aggregate(bank::account_type());
    node->serve(*runtime);
  }
  ~Node() { kill(); }
  void kill() {
    if (node) node->abandon();
    runtime.reset();
    node.reset();
  }
  std::size_t held() const { return node->coordinator().leases().held().size(); }
  bool holds(const std::string& account) const {
    return node->coordinator().leases().fence_for({"account", account}).has_value();
  }
};

} // namespace

SCENARIO("G8 commands on any node: a command sent to a node that does not hold its shard runs on the node that "
         "does, over the transport, and when that node dies its commands fail fast with node_unavailable until the "
         "takeover, then a retry with the same key takes effect once",
         "[cluster][G8][postgres][forwarding]") {
  const std::string url = PostgresServer::shared().create_database();
  GIVEN("nodes a and b sharing 8 shards") {
    Node a(url, "a"), b(url, "b");
    REQUIRE(wait_until([&] { return a.held() + b.held() == 8 && a.held() > 0 && b.held() > 0; }, 20s));

    WHEN("20 accounts are opened, all through node a") {
      std::map<std::string, CommandResult> results;
      int on_b = 0;
      for (int i = 0; i < 20; ++i) {
        const std::string id = "acc-" + std::to_string(i);
        if (b.holds(id)) ++on_b;
        results[id] = a.runtime->execute(open_account(id));
      }
      REQUIRE(on_b > 0);
      THEN("each is accepted with the position the shared log gives its event, and b ran those of its shards") {
        for (const auto& [id, r] : results) {
          INFO(id << ": " << (r.error ? r.error->message : ""));
          REQUIRE(r.accepted());
          const auto events = a.runtime->read_stream({"account", id});
          REQUIRE(events.size() == 1);
          CHECK(events[0].position == r.position);
        }
        const auto at_a = a.runtime->metrics().command_totals();
        const auto at_b = b.runtime->metrics().command_totals();
        CHECK(at_a.forwarded.accepted == static_cast<std::uint64_t>(on_b));
        CHECK(at_b.accepted == static_cast<std::uint64_t>(on_b));
        CHECK(at_a.accepted == static_cast<std::uint64_t>(20 - on_b));
        // Its /metrics says what it holds.
        CHECK(a.runtime->metrics_text().find("annals_cluster_shards_owned " + std::to_string(a.held()))
              != std::string::npos);
        CHECK(a.runtime->metrics_text().find("annals_cluster_members_live 2") != std::string::npos);
      }
      AND_WHEN("node b is killed and a deposit for one of its accounts is sent to a, then retried with its key") {
        std::string victim;
        for (const auto& kv : results)
          if (b.holds(kv.first)) victim = kv.first;
        b.kill();
        const auto sent = std::chrono::steady_clock::now();
        const auto first = a.runtime->execute(deposit(victim, 25, std::string("dep-1")));
        const auto answered_in = std::chrono::steady_clock::now() - sent;
        CommandResult last = first;
        const bool taken_over = wait_until([&] {
          last = a.runtime->execute(deposit(victim, 25, std::string("dep-1")));
          return last.accepted();
        }, 20s, 50ms);
        const auto again = a.runtime->execute(deposit(victim, 25, std::string("dep-1")));
        THEN("the first fails fast with node_unavailable, a retry succeeds once a holds the shard, "
             "and the deposit is booked once") {
          INFO("first answer: " << (first.error ? first.error->message : "accepted") << " after "
                                << std::chrono::duration_cast<std::chrono::milliseconds>(answered_in).count() << " ms");
          CHECK(first.code() == "node_unavailable");
          CHECK(answered_in < 5s);  // not the 20 s command timeout
          REQUIRE(taken_over);
          CHECK(a.holds(victim));
          CHECK(a.held() == 8);
          CHECK(again.replayed);
          CHECK(a.runtime->read_stream({"account", victim}).size() == 2);
          CHECK(a.runtime->inspect("account", victim)->state.as_object().at("balance").as_int64() == 25);
        }
      }
    }
  }
}

SCENARIO("A cluster node is refused at start with a message that says what to fix", "[cluster][postgres]") {
  const std::string url = PostgresServer::shared().create_database();
  ClusterNode a(node_options(url, "a"));
  auto refusal = [](NodeOptions o) -> std::string {
    try {
      ClusterNode n(std::move(o));
    } catch (const NodeStartError& e) {
      return e.what();
    }
    return "started";
  };
  CHECK_THAT(refusal(node_options(url, "a")), Catch::Contains("node name 'a' is in use by a live member"));
  CHECK_THAT(refusal(node_options(url, "b", 16)), Catch::Contains("has 8 shards, this node is configured with 16"));
  auto no_url = node_options(url, "c");
  no_url.store.url.clear();
  CHECK_THAT(refusal(no_url), Catch::Contains("needs the shared PostgreSQL database's URL"));
  auto taken = node_options(url, "d");
  taken.port = static_cast<std::uint16_t>(std::stoi(a.address().substr(a.address().rfind(':') + 1)));
  CHECK_THAT(refusal(taken), Catch::Contains(a.address().substr(a.address().rfind(':') + 1)));
}

SCENARIO("G8 nodes connect to the members they see in the membership table at join, before any command is forwarded, "
         "and reconnect to a member that restarts",
         "[cluster][G8][postgres]") {
  const std::string url = PostgresServer::shared().create_database();
  GIVEN("nodes a and b started, no command sent") {
    Node a(url, "a"), b(url, "b");
    THEN("each has a transport connection to the other, and says so in /metrics") {
      REQUIRE(wait_until([&] { return a.node->transport().connected("b") && b.node->transport().connected("a"); },
                         10s));
      CHECK(a.runtime->metrics_text().find("annals_cluster_peers_connected 1") != std::string::npos);
      CHECK(a.runtime->metrics().command_totals().forwarded.accepted == 0);
    }
    AND_WHEN("b is killed and started again") {
      REQUIRE(wait_until([&] { return a.node->transport().connected("b"); }, 10s));
      b.kill();
      REQUIRE(wait_until([&] { return !a.node->transport().connected("b"); }, 10s));
      // A name is free again once its member counts as gone (no heartbeat for the ttl).
      REQUIRE(wait_until([&] {
        const auto live = a.node->coordinator().live_members();
        return std::find(live.begin(), live.end(), "b") == live.end();
      }, 10s));
      Node b2(url, "b");
      THEN("a connects to the new b by itself") {
        CHECK(wait_until([&] { return a.node->transport().connected("b"); }, 10s));
      }
    }
  }
}
