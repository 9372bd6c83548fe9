#pragma once
// NodeMetrics (internal to annals::cluster): a clustered node's own metrics,
// read from its coordinator and transport when /metrics is scraped (a
// prometheus-cpp Collectable added to the runtime's MetricsRegistry), so
// they need no bookkeeping of their own. Names: docs/metrics.md.

#include "annals/cluster/cluster_coordinator.hpp"
#include "annals/cluster/node_transport.hpp"

#include <prometheus/collectable.h>

#include <mutex>

namespace annals::cluster {

class NodeMetrics final : public prometheus::Collectable {
public:
  NodeMetrics(const ClusterCoordinator& coordinator, const NodeTransport& transport)
      : coordinator_(&coordinator), transport_(&transport) {}
  std::vector<prometheus::MetricFamily> Collect() const override;
  /// The node stops: collect nothing from here on (a scrape may still hold this).
  void detach();

private:
  mutable std::mutex mtx_;
  const ClusterCoordinator* coordinator_;
  const NodeTransport* transport_;
};

} // namespace annals::cluster
