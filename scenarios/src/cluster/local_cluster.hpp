#pragma once
// The cluster of a cluster scenario: a throwaway PostgreSQL, the TLS files,
// one config, log and `annals node` process per node, HTTP connections to
// them, and what every node was sent and answered (the report's per-node
// lines). Everything is stopped and removed by stop() or the destructor.

#include "annals/command.hpp"
#include "annals/command_result.hpp"
#include "annals/scenarios/run_report.hpp"
#include "annals/scenarios/scenario_runner.hpp"

#include "local_postgres.hpp"
#include "node_process.hpp"

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace annals::scenarios::cluster_run {

class HttpClient;

/// The live nodes' shards: settled when they sum to the shard count and each
/// live node holds at least one.
struct ShardCount {
  bool settled = false;
  std::string text;  ///< "n1 6, n2 5, n3 5 (16 of 16)"
  json::object by_node;
};

class LocalCluster {
public:
  LocalCluster(const Scenario& scenario, const RunOptions& options, RunObserver& observer);
  ~LocalCluster();

  /// PostgreSQL, the certificates, the nodes; returns when every node answers
  /// /health and the shards are spread. Throws ClusterError.
  void start();
  /// Stops the nodes (SIGTERM, then SIGKILL after a grace period) and PostgreSQL; removes its data.
  void stop();

  /// "a throwaway PostgreSQL 15 (postgresql://...), 3 nodes, 16 shards, mutual TLS"
  std::string describe() const;

  /// Sends a command to `node` over connection number `connection` (one per
  /// thread); a result as Runtime::execute gives (code node_unreachable when
  /// the node did not answer).
  CommandResult execute(const std::string& node, const Command& c, int connection);
  /// GET /queries/...: the result, or the error.
  Expected<json::value> query(const std::string& node, const std::string& projection, const std::string& query,
                              const json::object& args, std::int64_t min_position,
                              std::optional<std::chrono::milliseconds> timeout);

  /// "" when every node in `nodes` serves requests, else why not.
  std::string not_serving(const std::vector<std::string>& nodes);
  NodeProcess& node(const std::string& name);
  /// kill | pause | resume | stop | restart; a one-line summary. Throws ClusterError on a failed restart.
  std::string act(const std::string& action, const std::string& node);
  /// Scrapes /metrics of the serving nodes.
  ShardCount shards();
  /// Polls shards() until settled twice in a row (a snapshot taken during a
  /// handover may add up by chance), `timeout` passes or a stop is asked.
  ShardCount wait_settled(std::chrono::milliseconds timeout, bool& settled);

  RunReport report(double seconds, std::int64_t head);
  /// Every serving node's /metrics, each under a "# node nK" line.
  std::string metrics_text();

private:
  struct Tally {
    std::uint64_t sent = 0, accepted = 0, rejected = 0, failed = 0, node_unavailable = 0, replays = 0;
  };
  HttpClient& client(const std::string& node, int connection);
  void drop_clients(const std::string& node);
  void write_config(const std::string& node);
  void announce(NodeProcess& n, pid_t pid = 0);  // pid: of the process it was (after a kill)
  std::string get(const std::string& node, const std::string& target, unsigned& status);
  bool stop_requested() const { return options_.interrupted && options_.interrupted->load(); }

  const Scenario& scenario_;
  const ClusterSpec& spec_;
  const RunOptions& options_;
  RunObserver& observer_;
  std::string dir_;  // the run's directory: configs, logs, certificates
  std::string executable_;
  std::unique_ptr<LocalPostgres> postgres_;
  std::vector<std::unique_ptr<NodeProcess>> nodes_;

  std::mutex mtx_;  // the connections and tallies: load callers run in parallel
  std::map<std::pair<std::string, int>, std::unique_ptr<HttpClient>> clients_;
  std::map<std::string, Tally> tallies_;
  std::vector<double> latencies_;
  std::uint64_t queries_ = 0, query_errors_ = 0;
  std::vector<double> query_latencies_;
};

} // namespace annals::scenarios::cluster_run
