#pragma once
// Instruments: the runtime's metrics as cached prometheus-cpp handles. Each
// metric family is created once, and the handles of an aggregate type, a
// command type, a projection or a query when it is registered, so recording
// on the command path is an atomic add, never a look-up. Metric names and
// labels are documented in docs/metrics.md.
//
// One Instruments may serve runtimes that run one after another (a shared
// MetricsRegistry): asking again for the handles of the same labels returns
// the same series, so counters go on counting. Thread-safe.

#include "annals/command_result.hpp"

#include <memory>
#include <string>
#include <vector>

namespace prometheus {
class Counter;
class Gauge;
class Histogram;
class Registry;
} // namespace prometheus

namespace annals::actors {

struct CommandInstruments {
  prometheus::Counter* accepted = nullptr;
  prometheus::Counter* rejected = nullptr;
  prometheus::Counter* denied = nullptr;
  prometheus::Counter* failed = nullptr;
  prometheus::Counter* replays = nullptr;
  prometheus::Histogram* latency = nullptr;
  /// Counts the outcome (denied = rejected with code forbidden) and the latency.
  void record(const CommandResult& r, double seconds) const;

  // Commands this node forwarded to the node that holds their shard.
  prometheus::Counter* forwarded_accepted = nullptr;
  prometheus::Counter* forwarded_rejected = nullptr;
  prometheus::Counter* forwarded_failed = nullptr;
  prometheus::Counter* forwarded_unavailable = nullptr;  ///< node_unavailable: the owner was not reached
  prometheus::Histogram* forward_latency = nullptr;
  /// Counts a forwarded command's outcome and its latency at this node.
  void record_forward(const CommandResult& r, double seconds) const;
};

struct AggregateInstruments {
  prometheus::Gauge* active = nullptr;
  prometheus::Counter* recoveries = nullptr;
  prometheus::Histogram* recovery_seconds = nullptr;
  prometheus::Counter* conflict_reloads = nullptr;  ///< another writer won a version race
  prometheus::Counter* evictions = nullptr;         ///< passivated early to stay under the bound
  prometheus::Counter* fenced_appends = nullptr;    ///< refused: this node no longer held the shard (G8)
};

struct ProjectionInstruments {
  prometheus::Counter* applied = nullptr;
  prometheus::Histogram* lag_seconds = nullptr;  ///< commit time to apply time
  prometheus::Gauge* backlog = nullptr;
  prometheus::Gauge* checkpoint = nullptr;
  prometheus::Counter* restarts = nullptr;
  prometheus::Counter* errors = nullptr;
  prometheus::Gauge* parked = nullptr;
};

struct QueryInstruments {
  prometheus::Counter* ok = nullptr;
  prometheus::Counter* errors = nullptr;
  prometheus::Histogram* latency = nullptr;
  void record(bool ok, double seconds) const;
};

class Instruments {
public:
  Instruments();
  ~Instruments();
  Instruments(const Instruments&) = delete;
  Instruments& operator=(const Instruments&) = delete;

  std::shared_ptr<prometheus::Registry> registry() const;

  AggregateInstruments aggregate(const std::string& type);
  CommandInstruments command(const std::string& aggregate, const std::string& command);
  ProjectionInstruments projection(const std::string& name);
  QueryInstruments query(const std::string& projection, const std::string& query);

  /// Sets every gauge handed out so far to 0 (a runtime that stops: its
  /// gauges must not describe it any more).
  void zero_gauges();

  /// Latency buckets: 1.5x apart from 50 us to 10 s, fine enough for
  /// p50/p95/p99 estimates within about 25%.
  static const std::vector<double>& latency_buckets();

private:
  struct Families;
  std::unique_ptr<Families> f_;
};

using InstrumentsPtr = std::shared_ptr<Instruments>;

} // namespace annals::actors
