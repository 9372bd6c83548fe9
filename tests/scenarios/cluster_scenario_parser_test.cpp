// Cluster scenarios, read (docs/scenarios.md, "Clusters"): the "cluster"
// section, the steps on nodes, and the refusals, found by the parser with
// the step before anything starts.

#include <annals/scenarios/scenario_parser.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace annals::scenarios;

namespace {

std::string cluster_with(const std::string& steps, const std::string& cluster = R"({"nodes": 3})") {
  return R"({"name": "c", "domain": "bank", "cluster": )" + cluster + R"(, "steps": [)" + steps + "]}";
}

std::string plain_with(const std::string& steps) {
  return R"({"name": "p", "domain": "bank", "steps": [)" + steps + "]}";
}

std::string error_of(const std::string& text) {
  try {
    parse_scenario(text, "s.json");
  } catch (const ScenarioError& e) {
    return e.what();
  }
  FAIL("no ScenarioError for: " << text);
  return {};
}

const std::string deposit = R"({"step": "command", "aggregate": "account", "id": "a", "command": "deposit", "data": {"amount": 1}})";

} // namespace

SCENARIO("a cluster section and the steps on nodes are read") {
  GIVEN("a cluster of three nodes with TLS, and steps that name nodes") {
    const auto sc = parse_scenario(cluster_with(
      R"({"step": "command", "node": "n2", "aggregate": "account", "id": "a", "command": "open", "data": {"owner": "A"}},
         {"step": "load", "nodes": "all", "aggregate": "account", "aggregates": 2, "id": "a-{i}", "commands": 0},
         {"step": "kill_node", "node": "n3"},
         {"step": "wait_until", "timeout_ms": 5000},
         {"step": "restart_node", "node": "n3"},
         {"step": "query", "node": "n3", "projection": "balances", "query": "balance", "args": {"id": "a"}, "read_your_writes": true})",
      R"({"nodes": 3, "shards": 8, "lease_ttl_ms": 2000, "tls": true})"));
    THEN("the section, the nodes and the actions are as written") {
      REQUIRE(sc.cluster);
      CHECK(sc.cluster->nodes == 3);
      CHECK(sc.cluster->shards == 8);
      CHECK(sc.cluster->lease_ttl.count() == 2000);
      CHECK(sc.cluster->tls);
      CHECK(sc.domains == std::vector<std::string>{"bank"});
      CHECK(std::get<CommandStep>(sc.steps[0].body).node == "n2");
      CHECK(std::get<LoadStep>(sc.steps[1].body).nodes == std::vector<std::string>{"n1", "n2", "n3"});
      CHECK(std::get<NodeStep>(sc.steps[2].body).action == "kill");
      CHECK(std::get<NodeStep>(sc.steps[2].body).node == "n3");
      CHECK(std::get<WaitStep>(sc.steps[3].body).condition == "shards_settled");
      CHECK(std::get<NodeStep>(sc.steps[4].body).action == "restart");
      CHECK(std::get<QueryStep>(sc.steps[5].body).node == "n3");
    }
  }
  GIVEN("a cluster section that names the domains itself") {
    const auto sc = parse_scenario(R"({"name": "c", "cluster": {"domains": ["bank"]}, "steps": [{"step": "report"}]})");
    THEN("they are the scenario's") { CHECK(sc.domains == std::vector<std::string>{"bank"}); }
  }
}

SCENARIO("cluster steps outside a cluster scenario, and runtime steps inside one, are refused with their step") {
  CHECK(error_of(plain_with(deposit + R"(, {"step": "kill_node", "node": "n1"})"))
        == "s.json: step 2 (kill_node): 'kill_node' needs a cluster scenario: add a \"cluster\" section "
           "(docs/scenarios.md, \"Clusters\")");
  CHECK(error_of(plain_with(R"({"step": "wait_until", "condition": "shards_settled"})"))
        == "s.json: step 1 (wait_until): 'condition' shards_settled needs a cluster scenario (a \"cluster\" section, "
           "docs/scenarios.md)");
  CHECK(error_of(plain_with(R"({"step": "command", "node": "n2", "aggregate": "account", "id": "a", "command": "deposit"})"))
        == "s.json: step 1 (command): 'node' applies only to a cluster scenario (one with a \"cluster\" section); remove it");
  CHECK(error_of(cluster_with(deposit + R"(, {"step": "inspect", "aggregate": "account", "id": "a"})"))
        == "s.json: step 2 (inspect): 'inspect' needs the runner's in-process runtime, which a cluster scenario does "
           "not have (its nodes are separate processes); use command, load, query, wait_until, the *_node steps, "
           "report or sleep");
  CHECK(error_of(cluster_with(R"({"step": "inject", "fault": "crash_projector", "projection": "balances"})"))
        .find("step 1 (inject): 'inject' needs the runner's in-process runtime") != std::string::npos);
  CHECK(error_of(cluster_with(R"({"step": "wait_until", "condition": "caught_up"})"))
        == "s.json: step 1 (wait_until): 'condition' must be shards_settled in a cluster scenario (its projections "
           "run inside the nodes), not 'caught_up'");
}

SCENARIO("the cluster's steps and section are read strictly") {
  CHECK(error_of(cluster_with(R"({"step": "kill_node", "node": "n4"})"))
        == "s.json: step 1 (kill_node): 'node' names no node of this cluster: 'n4' (its nodes: n1, n2, n3)");
  CHECK(error_of(cluster_with(R"({"step": "pause_node", "node": "n1", "signal": 9})"))
        == "s.json: step 1 (pause_node): unknown field 'signal' (known here: node, note, step)");
  CHECK(error_of(cluster_with(R"({"step": "stop_node"})")) == "s.json: step 1 (stop_node): missing field 'node'");
  CHECK(error_of(cluster_with(R"({"step": "report"})", R"({"nodes": 2, "tls": "yes"})"))
        == "s.json: 'cluster.tls' must be true or false, not string");
  CHECK(error_of(cluster_with(R"({"step": "report"})", R"({"nodes": 2, "replicas": 2})"))
        .rfind("s.json: unknown field 'cluster.replicas'", 0) == 0);
  CHECK(error_of(cluster_with(R"({"step": "report"})", R"({"nodes": 4, "shards": 3})"))
        == "s.json: 'cluster.shards' (3) must be at least 'cluster.nodes' (4): every node holds a shard once the "
           "cluster has settled");
  CHECK(error_of(R"({"name": "c", "domain": "bank", "cluster": {}, "settings": {"max_attempts": 2}, "steps": [{"step": "report"}]})")
        == "s.json: 'settings' tune the runner's in-process runtime, which a cluster scenario does not have; the "
           "\"cluster\" section holds the nodes' settings");
}
