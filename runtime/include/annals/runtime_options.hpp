#pragma once
// Settings of an embedded runtime. Every field has a working default.

#include "annals/authorization.hpp"
#include "annals/command.hpp"
#include "annals/log.hpp"
#include "annals/persistence/event_store.hpp"

#include <chrono>
#include <cstddef>
#include <memory>

namespace annals {

class MetricsRegistry;  // annals/metrics_registry.hpp

/// Supervision and delivery settings shared by all projections.
struct ProjectionOptions {
  /// A crashed projector restarts after initial_backoff, then factor times
  /// longer each time up to max_backoff; back to initial after reset_after
  /// of stable running.
  std::chrono::milliseconds initial_backoff{50};
  double backoff_factor = 2.0;
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};
  std::chrono::milliseconds reset_after{std::chrono::seconds(30)};
  /// The same event failing this many times is parked (dead letter) and skipped.
  int max_attempts = 3;
  /// Events read from the store per catch-up step.
  std::size_t catch_up_batch = 500;
  /// Committed batches in flight to one projector before the bus holds back
  /// and lets it catch up from the store (bounds memory for slow projectors).
  std::size_t bus_window = 64;
  /// How long a query waits (for min_position, or for a restarting projector).
  std::chrono::milliseconds query_timeout{std::chrono::seconds(5)};
};

struct RuntimeOptions {
  /// Where events live. Default: sqlite_store({"annals.db"}) in the working
  /// directory; memory_store() for none.
  std::shared_ptr<EventStoreProvider> store;

  /// How long execute() waits for an answer before it returns a timeout.
  std::chrono::milliseconds command_timeout{std::chrono::seconds(5)};
  /// An aggregate idle this long is passivated (its memory released).
  std::chrono::milliseconds passivate_after{std::chrono::minutes(5)};
  /// How long an aggregate waits for the journal or a store reader.
  std::chrono::milliseconds store_timeout{std::chrono::seconds(30)};

  /// Threads of the actor scheduler (0: CAF's default, max(cores, 4)).
  std::size_t worker_threads = 0;
  /// Reader connections (each on its own thread) for recovery and lookups.
  std::size_t reader_threads = 2;
  /// Most appends the journal commits in one transaction.
  std::size_t max_batch = 512;
  /// Commands waiting for one aggregate before it answers "overloaded".
  std::size_t max_queued_per_aggregate = 10000;

  /// Size limits for ids and payloads; the store's max_event_bytes should match.
  CommandLimits limits;

  ProjectionOptions projections;

  /// Asked before every command; empty: every command is allowed.
  CommandPolicy authorize;

  /// Structured logs: level, format (text or JSON lines), sink.
  LogOptions log;

  /// Where the runtime records its metrics (make_metrics_registry(),
  /// annals/metrics_registry.hpp). Empty: a registry of its own. Share one
  /// between runtimes that run one after another (a restart) to keep
  /// counting; never between two runtimes running at the same time. A runtime
  /// sets the registry's gauges to 0 when it stops.
  std::shared_ptr<MetricsRegistry> metrics;

  /// Record every command's outcome in the store's audit trail
  /// (Runtime::audit_log).
  bool audit = true;
};

} // namespace annals
