#pragma once
// The tables clustered nodes coordinate through, in the shared store
// (PostgreSQL): shard leases and the membership of nodes. Times are the
// store's clock, never a node's, so nodes with skewed clocks still agree on
// who holds what. One object is one session, used from one thread at a time.
// Every operation throws StoreError when the store fails.

#include "annals/persistence/shard_lease.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annals {

class ShardLeaseTable {
public:
  virtual ~ShardLeaseTable() = default;

  /// Records the cluster's shard count when it has none yet (the first node
  /// to start), with a free lease row per shard. Throws StoreError
  /// (incompatible) when the cluster was set up with another count: shards
  /// cannot be renumbered under stored streams.
  virtual void configure_shards(int shard_count) = 0;

  /// Takes the shard for `node` for `ttl` when it is free, expired or
  /// already this node's, with a new epoch (so fences of any earlier
  /// holding, this node's old process included, no longer match). Nullopt
  /// when another node holds it. Waits for appends that hold the lease row.
  virtual std::optional<ShardFence> acquire(int shard, const std::string& node, std::chrono::milliseconds ttl) = 0;

  /// Extends every lease `node` still holds to `ttl` from now, at the same
  /// epoch; the fences held afterwards. A lease that expired is not renewed:
  /// it is missing from the result (lost), even if nobody took it yet.
  virtual std::vector<ShardFence> renew(const std::string& node, std::chrono::milliseconds ttl) = 0;

  /// Hands the shard back (clean shutdown, rebalancing) when `fence` still
  /// holds it; true when it did. Another node can take it at once.
  virtual bool release(const ShardFence& fence) = 0;

  /// Every shard's lease, by shard.
  virtual std::vector<ShardLease> leases() = 0;
};

/// A node as the membership table has it.
struct ClusterMember {
  std::string node;
  std::string address;       ///< where other nodes reach it ("host:port")
  std::string http_address;  ///< where clients reach it ("host:port"), may be ""
  std::int64_t incarnation = 0;  ///< grows with each start of the node
  std::chrono::milliseconds since_heartbeat{0};  ///< by the store's clock
  bool left = false;         ///< it said goodbye (clean shutdown)
};

class MembershipTable {
public:
  virtual ~MembershipTable() = default;

  /// Registers this node (address, http_address of `me`) as a new
  /// incarnation, which it returns. Throws StoreError (incompatible) when
  /// another live member has the name: a heartbeat younger than
  /// `alive_within` from another address (the same address means this node's
  /// previous process, which is gone, since this one could bind it).
  virtual std::int64_t join(const ClusterMember& me, std::chrono::milliseconds alive_within) = 0;

  /// Records that this incarnation is alive; false when the row now belongs
  /// to a newer incarnation (this process was declared gone and replaced).
  virtual bool heartbeat(const std::string& node, std::int64_t incarnation) = 0;

  /// Marks this incarnation as gone (clean shutdown).
  virtual void leave(const std::string& node, std::int64_t incarnation) = 0;

  /// Every node that ever joined, by name, with its heartbeat's age.
  virtual std::vector<ClusterMember> members() = 0;
};

/// Both tables on one session.
class ClusterCoordination : public ShardLeaseTable, public MembershipTable {
public:
  ~ClusterCoordination() override = default;
};

} // namespace annals
