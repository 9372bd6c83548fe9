#pragma once
// A snapshot of the runtime's metrics, readable from C++. The same numbers
// are available in Prometheus' text format (Runtime::metrics_text()).
// Latencies are in seconds; p50/p95/p99 are estimated from histogram
// buckets 1.5x apart (within about 25%).

#include <cstdint>
#include <string>
#include <vector>

namespace annals {

struct LatencyStats {
  std::uint64_t count = 0;
  double sum = 0;   ///< seconds
  double p50 = 0;
  double p95 = 0;
  double p99 = 0;
};

struct CommandStats {
  std::string aggregate;
  std::string command;
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;  ///< by the domain or validation
  std::uint64_t denied = 0;    ///< by the authorization policy
  std::uint64_t failed = 0;
  std::uint64_t replays = 0;   ///< idempotent repeats (also counted as accepted)
  LatencyStats latency;
  /// Sent to the node that holds their shard (a clustered node), by their
  /// outcome there; counted above only where they ran.
  struct Forwarded {
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
    std::uint64_t failed = 0;
    std::uint64_t node_unavailable = 0;  ///< the owner was not reached
    LatencyStats latency;                ///< round trip included
  } forwarded;
};

struct AggregateStats {
  std::string aggregate;
  std::int64_t active = 0;
  std::uint64_t recoveries = 0;
  std::uint64_t conflict_reloads = 0;  ///< lost version races (another writer)
  std::uint64_t evictions = 0;         ///< passivated early (max_active_aggregates)
  std::uint64_t fenced_appends = 0;    ///< refused as not_owner on a clustered node (G8)
  LatencyStats recovery;
};

struct ProjectionStats {
  std::string projection;
  std::uint64_t applied = 0;
  LatencyStats lag;             ///< commit to apply
  std::int64_t backlog = 0;
  std::int64_t checkpoint = 0;
  std::uint64_t restarts = 0;
  std::uint64_t errors = 0;
  std::int64_t parked = 0;
};

struct QueryStats {
  std::string projection;
  std::string query;
  std::uint64_t ok = 0;
  std::uint64_t errors = 0;
  LatencyStats latency;
};

struct MetricsSnapshot {
  std::vector<CommandStats> commands;
  std::vector<AggregateStats> aggregates;
  std::vector<ProjectionStats> projections;
  std::vector<QueryStats> queries;

  /// Latency over all command types / all queries (merged histograms, so
  /// the percentiles are of all calls together).
  LatencyStats command_latency;
  LatencyStats query_latency;

  /// Sums over all command types (latency: command_latency) / all queries.
  CommandStats command_totals() const;
  std::uint64_t query_total() const;
};

} // namespace annals
