#include "node_metrics.hpp"

#include <prometheus/metric_family.h>

namespace annals::cluster {

namespace {

prometheus::MetricFamily family(const char* name, const char* help, prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) m.counter.value = value;
  else m.gauge.value = value;
  f.metric.push_back(std::move(m));
  return f;
}

} // namespace

void NodeMetrics::detach() {
  std::lock_guard<std::mutex> lock(mtx_);
  coordinator_ = nullptr;
  transport_ = nullptr;
}

std::vector<prometheus::MetricFamily> NodeMetrics::Collect() const {
  using prometheus::MetricType;
  std::lock_guard<std::mutex> lock(mtx_);
  if (!coordinator_) return {};
  const auto& leases = coordinator_->leases();
  const auto counters = leases.counters();
  const auto live = coordinator_->live_members();
  double connected = 0;
  for (const auto& n : live)
    if (n != leases.node() && transport_->connected(n)) ++connected;
  return {
    family("annals_cluster_shards_owned", "Shards whose lease this node holds now", MetricType::Gauge,
           static_cast<double>(leases.held().size())),
    family("annals_cluster_lease_acquisitions_total", "Shard leases this node took (free, expired or handed over)",
           MetricType::Counter, static_cast<double>(counters.acquisitions)),
    family("annals_cluster_lease_renewals_total", "Shard lease renewals", MetricType::Counter,
           static_cast<double>(counters.renewals)),
    family("annals_cluster_lease_losses_total",
           "Shard leases this node lost without handing them back (expired or taken over)", MetricType::Counter,
           static_cast<double>(counters.losses)),
    family("annals_cluster_lease_releases_total", "Shard leases this node handed to another member",
           MetricType::Counter, static_cast<double>(counters.releases)),
    family("annals_cluster_members_live", "Live members of the cluster as this node saw them last, itself included",
           MetricType::Gauge, static_cast<double>(live.size())),
    family("annals_cluster_peers_connected", "Other live members this node has a transport connection to",
           MetricType::Gauge, connected),
    family("annals_cluster_coordination_rounds_failed_total",
           "Membership and lease rounds that failed (the store could not be reached)", MetricType::Counter,
           static_cast<double>(coordinator_->failed_rounds())),
  };
}

} // namespace annals::cluster
