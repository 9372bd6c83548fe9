#pragma once
// Shards and their leases, for clustered nodes on one shared store
// (docs/cluster.md). Every stream belongs to one of a fixed number of shards
// (shard_of); a node may write a shard's streams only while it holds the
// shard's lease, and every append it makes carries the fence it holds
// (AppendRequest::fence): the store checks it inside the append's
// transaction, so a node that lost the lease (paused, partitioned, slow)
// can never commit, whatever it believes.

#include "annals/event.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace annals {

/// The shard of a stream among `shard_count` shards: a hash of the aggregate
/// type and id that never changes between builds or machines (FNV-1a, 64
/// bits), because every node of a cluster must agree on it.
int shard_of(const StreamId& stream, int shard_count);

/// What an append proves about its writer: `node` holds `shard` at `epoch`.
/// The epoch grows with every acquisition of the shard (by any node), so a
/// fence from before a takeover never matches again.
struct ShardFence {
  int shard = 0;
  std::string node;
  std::int64_t epoch = 0;

  friend bool operator==(const ShardFence& a, const ShardFence& b) {
    return a.shard == b.shard && a.node == b.node && a.epoch == b.epoch;
  }
};

/// One shard's lease as the store has it.
struct ShardLease {
  int shard = 0;
  std::string owner;                 ///< "" when free
  std::int64_t epoch = 0;            ///< acquisitions so far
  std::chrono::milliseconds remaining{0};  ///< until expiry, by the store's clock; <= 0: expired
};

/// Which shards this node holds now: the runtime asks before each append.
/// Thread-safe. A node's view ends before the store's lease does (it counts
/// from before its renewal was sent), so a node stops writing a shard before
/// another can take it.
class ShardOwnership {
public:
  virtual ~ShardOwnership() = default;
  virtual int shard_count() const = 0;
  /// The fence for the stream's shard, or nullopt when this node does not
  /// hold it (then the append must not be tried: not_owner).
  virtual std::optional<ShardFence> fence_for(const StreamId& stream) const = 0;
};

} // namespace annals
