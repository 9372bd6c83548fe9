#pragma once
// MetricsRegistry: where a runtime records its metrics (prometheus-cpp's
// registry and the runtime's metric families, behind a pimpl: no
// prometheus-cpp in this header).
//
// Every runtime has one. By default it makes its own; set
// RuntimeOptions::metrics to share one between runtimes that run one after
// another on the same store (a restart), so that a report covers the whole
// run:
//
//   auto metrics = annals::make_metrics_registry();
//   { annals::RuntimeOptions o; o.metrics = metrics; annals::Runtime a(o); ... }
//   { annals::RuntimeOptions o; o.metrics = metrics; annals::Runtime b(o); ... }
//   metrics->snapshot();   // commands of a and b together
//
// - Counters and histograms go on counting: the second runtime's series are
//   the first one's (same names and labels).
// - Gauges (active aggregates, projection backlog, checkpoint and parked
//   events) describe the runtime that is running now: a runtime sets every
//   gauge of its registry to 0 when it stops, and the next one sets them again
//   as it recovers aggregates and its projectors catch up.
// - Two runtimes using one registry at the same time is not supported: their
//   counters would add up, and their gauges would overwrite each other.

#include "annals/metrics.hpp"

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace prometheus {
class Collectable;
}

namespace annals {

class MetricsRegistry {
public:
  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  /// The metrics so far, also after the runtimes that recorded them stopped
  /// (what Runtime::metrics() returns while one runs).
  MetricsSnapshot snapshot() const;
  /// The same in Prometheus' text exposition format (Runtime::metrics_text()).
  std::string text() const;

  /// Adds metrics kept elsewhere (a clustered node's leases and members:
  /// annals::cluster) to text() and snapshot(), for as long as `source`
  /// lives.
  void add_collectable(std::weak_ptr<prometheus::Collectable> source);

  /// The runtime's handle on the registry; opaque outside the runtime.
  struct Impl;
  Impl& impl() const { return *impl_; }

private:
  std::unique_ptr<Impl> impl_;
};

/// A new, empty registry to share between runtimes (RuntimeOptions::metrics).
std::shared_ptr<MetricsRegistry> make_metrics_registry();

} // namespace annals
