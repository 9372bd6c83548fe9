#pragma once
// ClusterNode: one node of a cluster on the shared PostgreSQL journal, for a
// service that embeds the runtime (`annals node` is one). It starts the
// transport to the other nodes, joins the membership and takes its share of
// the shards; the runtime built with runtime_options() then fences every
// append with this node's leases (G8) and forwards a command whose shard
// another node holds to that node. docs/cluster.md.
//
//   annals::cluster::ClusterNode node(std::move(node_options));
//   annals::Runtime rt(node.runtime_options(my_runtime_options));
//   rt.register_aggregate(...);
//   node.serve(rt);          // commands other nodes forward run on rt
//   ...
//   node.stop();             // hand the shards back, leave; then rt goes

#include "annals/cluster/cluster_coordinator.hpp"
#include "annals/cluster/node_transport.hpp"
#include "annals/persistence/postgres_event_store.hpp"
#include "annals/runtime_options.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace annals {
class Runtime;
}

namespace annals::cluster {

struct NodeOptions {
  /// The cluster's name (a node of another cluster is refused) and this
  /// node's, unique among the live members.
  std::string cluster = "annals";
  std::string node;
  /// The shared PostgreSQL database: the journal and the coordination point.
  PostgresStoreOptions store;
  /// Where the other nodes reach this one (port 0: any free port).
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  /// Where clients reach this node ("host:port", for the membership table;
  /// may be empty).
  std::string http_address;
  /// Shard count (the same on every node: a node with another is refused),
  /// lease ttl and rounds.
  LeaseSettings leases;
  /// A member whose heartbeat is older counts as gone. 0: leases.ttl.
  std::chrono::milliseconds member_timeout{0};
  /// How long a command waits (within its deadline) for a shard that has no
  /// owner now — handed from one node to another, or its dead owner's lease
  /// expired — before it fails with node_unavailable. 0: one lease round
  /// plus 200 ms, which covers a handover.
  std::chrono::milliseconds handoff_wait{0};
  /// Mutual TLS between the nodes against the cluster's CA; empty: plain TCP.
  std::optional<TlsFiles> tls;
  /// The transport's heartbeats and timeouts (TransportOptions).
  std::chrono::milliseconds heartbeat_interval{500};
  std::chrono::milliseconds connection_timeout{2000};
  std::chrono::milliseconds request_timeout{5000};
  /// Membership changes, takeovers, refusals, forwarding failures.
  LoggerPtr logger;
};

/// A start failure: one line that says what to fix.
class NodeStartError : public std::runtime_error {
public:
  enum class Cause {
    options,            ///< a bad option, TLS file or address (a port in use)
    refused,            ///< the cluster refused it: its name is in use, another shard count
    store_unavailable   ///< the shared database cannot be reached
  };
  NodeStartError(Cause cause, const std::string& message) : std::runtime_error(message), cause_(cause) {}
  Cause cause() const { return cause_; }

private:
  Cause cause_;
};

class NodeForwarder;  // internal: the CommandForwarder over the transport
class NodeMetrics;    // internal: shards owned, lease counters, members (/metrics)

class ClusterNode {
public:
  /// Starts the transport, opens the coordination session, checks the
  /// shard count, joins and runs the first lease round. Throws
  /// NodeStartError (bad options, TLS files, a port in use, a name a live
  /// member uses, another shard count, an unreachable store).
  explicit ClusterNode(NodeOptions options);
  /// stop() if not stopped yet.
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  /// `base` with this node's store, shard ownership and forwarder set.
  RuntimeOptions runtime_options(RuntimeOptions base = {}) const;
  /// Commands that other nodes forward here run on `runtime` (built with
  /// runtime_options()); until then they are refused with node_unavailable.
  /// From now on, the aggregates of a shard this node stops holding (handed
  /// back, lost, or its lease running out while renewals fail) are stopped
  /// on `runtime`. The runtime must outlive stop().
  void serve(Runtime& runtime);

  /// Stops serving forwarded commands, hands the shards back and leaves the
  /// membership, then stops the transport; commands the runtime forwards
  /// afterwards fail with node_unavailable. Idempotent. Stop it before the
  /// runtime it serves is destroyed.
  void stop();
  /// Stops like a killed process would: nothing handed back, no goodbye
  /// (tests).
  void abandon();

  const NodeOptions& options() const { return options_; }
  /// "host:port" the other nodes reach this node on.
  std::string address() const;
  const ClusterCoordinator& coordinator() const { return *coordinator_; }
  const NodeTransport& transport() const { return *transport_; }

private:
  void end(bool clean);

  NodeOptions options_;
  std::shared_ptr<NodeForwarder> forwarder_;
  std::unique_ptr<NodeTransport> transport_;
  std::unique_ptr<ClusterCoordinator> coordinator_;
  std::shared_ptr<NodeMetrics> metrics_;
  bool stopped_ = false;
  std::mutex served_mtx_;      // the coordinator's thread stops aggregates on served_
  Runtime* served_ = nullptr;
};

} // namespace annals::cluster
