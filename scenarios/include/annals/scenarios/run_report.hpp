#pragma once
// RunReport: the numbers at the end of a scenario (or at a `report` step),
// read from the runtime's metrics registry — the same numbers /metrics and
// Runtime::metrics() give, so a scenario shows what production would see.

#include "annals/json.hpp"
#include "annals/metrics.hpp"

#include <string>
#include <type_traits>
#include <vector>

namespace annals::scenarios {

/// One node of a cluster scenario: what the runner sent it and the shards it held at the end.
struct NodeReport {
  std::string node;
  std::string state;  ///< running, killed, paused, stopped, ...
  std::uint64_t sent = 0, accepted = 0, rejected = 0, failed = 0;
  std::uint64_t node_unavailable = 0;  ///< of the failed: its shard had no live owner
  std::int64_t shards = -1;            ///< -1: not known (the node was not running at the end)
};

struct RunReport {
  std::string scenario;
  double seconds = 0;            ///< since the run started
  std::int64_t head = 0;         ///< events in the store (its last position)

  CommandStats commands;         ///< totals; latency over every command
  std::vector<CommandStats> by_command;
  std::vector<ProjectionStats> projections;
  std::uint64_t queries = 0;
  std::uint64_t query_errors = 0;
  LatencyStats query_latency;
  /// Queries per command (0 when no command ran).
  double read_write_ratio = 0;
  std::uint64_t recoveries = 0;  ///< aggregate instances recovered from the store
  LatencyStats recovery;
  /// Cluster scenarios: per node (the commands above are the nodes' answers as the runner counted them).
  std::vector<NodeReport> nodes;

  static RunReport from(const MetricsSnapshot& m, std::string scenario, double seconds, std::int64_t head);

  json::object to_json() const;
  /// A compact table for terminals; `colour` adds ANSI colours.
  std::string to_text(bool colour) const;
};

/// "0.8 ms", "12 ms", "1.4 s", "75 us": latencies for humans.
std::string human_seconds(double s);

/// "1 step", "2 steps", "0 steps"; `plural` for nouns that do not take an s
/// ("1 retry", counted(n, "retry", "retries")).
template <class Count>
std::string counted(Count n, const std::string& noun, const std::string& plural = "") {
  static_assert(std::is_integral_v<Count>, "a count");
  return std::to_string(n) + " " + (n == 1 ? noun : plural.empty() ? noun + "s" : plural);
}

} // namespace annals::scenarios
