#include "annals/cluster/cluster_node.hpp"

#include "node_forwarder.hpp"
#include "node_metrics.hpp"

#include "annals/metrics_registry.hpp"
#include "annals/persistence/store_error.hpp"
#include "annals/runtime.hpp"

#include <algorithm>

namespace annals::cluster {

namespace {

using Cause = NodeStartError::Cause;

void check(const NodeOptions& o) {
  if (o.node.empty()) throw NodeStartError(Cause::options, "a cluster node needs a name (node)");
  if (o.cluster.empty()) throw NodeStartError(Cause::options, "a cluster node needs its cluster's name (cluster)");
  if (o.store.url.empty())
    throw NodeStartError(Cause::options,
                         "a cluster node needs the shared PostgreSQL database's URL (store: postgresql://...)");
  if (o.leases.shard_count < 1) throw NodeStartError(Cause::options, "the shard count must be at least 1");
  if (o.leases.ttl < std::chrono::milliseconds(300))
    throw NodeStartError(Cause::options, "the lease ttl must be at least 300 ms (it is "
                                           + std::to_string(o.leases.ttl.count()) + " ms)");
}

} // namespace

ClusterNode::ClusterNode(NodeOptions options) : options_(std::move(options)) {
  check(options_);
  ForwarderSettings f;
  f.me = options_.node;
  f.lease_ttl = options_.leases.ttl;
  f.handoff_wait = options_.handoff_wait.count() > 0 ? options_.handoff_wait
                                                     : options_.leases.interval() + std::chrono::milliseconds(200);
  auto lookup_store = options_.store;
  f.open_lookup = [lookup_store]() -> std::unique_ptr<ClusterCoordination> {
    return postgres_cluster_coordination(lookup_store);
  };
  forwarder_ = std::make_shared<NodeForwarder>(std::move(f), options_.logger);
  TransportOptions t;
  t.cluster = options_.cluster;
  t.node = options_.node;
  t.host = options_.host;
  t.port = options_.port;
  t.tls = options_.tls;
  t.heartbeat_interval = options_.heartbeat_interval;
  t.connection_timeout = options_.connection_timeout;
  t.request_timeout = options_.request_timeout;
  t.logger = options_.logger;
  auto* forwarder = forwarder_.get();
  try {
    transport_ = std::make_unique<NodeTransport>(
      t, [forwarder](std::string from, std::string request, Reply reply) {
        forwarder->handle(from, request, std::move(reply));
      });
  } catch (const TransportError& e) {
    throw NodeStartError(Cause::options, e.what());
  }
  CoordinatorSettings c;
  c.me.node = options_.node;
  c.me.address = address();
  c.me.http_address = options_.http_address;
  c.leases = options_.leases;
  c.member_timeout = options_.member_timeout;
  auto store = options_.store;
  try {
    coordinator_ = std::make_unique<ClusterCoordinator>([store] { return postgres_cluster_coordination(store); }, c,
                                                        options_.logger);
  } catch (const StoreError& e) {
    throw NodeStartError(e.kind() == StoreFailure::incompatible ? Cause::refused : Cause::store_unavailable, e.what());
  }
  forwarder_->attach(transport_.get(), coordinator_.get());
  // Connect to the members at join, not at the first forwarded command (the
  // transport backs off from one that fails).
  coordinator_->on_round([this](const std::vector<ClusterMember>& members) {
    const auto live = coordinator_->live_members();
    for (const auto& m : members) {
      if (m.node == options_.node || std::find(live.begin(), live.end(), m.node) == live.end()) continue;
      if (auto peer = peer_address(m.node, m.address)) transport_->connect(*peer);
    }
  });
  metrics_ = std::make_shared<NodeMetrics>(*coordinator_, *transport_);
}

ClusterNode::~ClusterNode() { stop(); }

std::string ClusterNode::address() const { return options_.host + ":" + std::to_string(transport_->port()); }

RuntimeOptions ClusterNode::runtime_options(RuntimeOptions base) const {
  base.store = postgres_store(options_.store);
  base.shard_ownership = coordinator_->ownership();
  base.forwarder = forwarder_;
  if (!base.metrics) base.metrics = make_metrics_registry();
  base.metrics->add_collectable(metrics_);
  return base;
}

void ClusterNode::serve(Runtime& runtime) {
  {
    std::lock_guard<std::mutex> lock(served_mtx_);
    served_ = &runtime;
  }
  coordinator_->on_shards_left([this](const std::vector<int>& shards) {
    std::lock_guard<std::mutex> lock(served_mtx_);
    if (!served_) return;
    const std::size_t stopped = served_->stop_aggregates_of_shards(shards);
    if (options_.logger && stopped > 0)
      options_.logger->log(LogLevel::info, "cluster.aggregates_stopped",
                           "node '" + options_.node + "' stopped " + std::to_string(stopped)
                             + " aggregate(s) of the " + std::to_string(shards.size())
                             + " shard(s) it no longer holds",
                           {{"node", options_.node}, {"aggregates", static_cast<std::int64_t>(stopped)}});
  });
  forwarder_->serve(&runtime);
}

void ClusterNode::stop() { end(true); }
void ClusterNode::abandon() { end(false); }

void ClusterNode::end(bool clean) {
  if (stopped_) return;
  stopped_ = true;
  coordinator_->on_shards_left(nullptr);
  coordinator_->on_round(nullptr);
  {
    std::lock_guard<std::mutex> lock(served_mtx_);
    served_ = nullptr;
  }
  forwarder_->serve(nullptr);  // commands forwarded from now on: node_unavailable
  forwarder_->stop();         // and those waiting for a shard's owner
  if (clean) coordinator_->stop();  // hand back, leave: the others take over at once
  else coordinator_->abandon();
  metrics_->detach();
  transport_.reset();  // sends still pending complete with node_unavailable
}

} // namespace annals::cluster
