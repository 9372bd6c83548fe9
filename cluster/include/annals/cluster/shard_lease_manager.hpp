#pragma once
// ShardLeaseManager: the shards this node holds, kept by rounds of
// "renew, then move toward the spread". Each round renews every lease the
// node holds (well before expiry: rounds run every ttl / 3 by default),
// takes the free or expired shards that rendezvous hashing over the live
// members gives this node, and hands back at most a few shards per round
// that another live member should hold (no rebalance storm when members
// come and go).
//
// The node's view of a lease ends before the store's: it counts from the
// moment the renewal was sent, minus a margin, so when renewals fail (the
// store is unreachable, the process was paused) fence_for stops answering
// for the shard before another node can take it. The store's fence check
// (AppendRequest::fence) is the guard that does not depend on this view.
//
// run_round is driven by one thread (ClusterCoordinator); fence_for and the
// other readers are thread-safe.

#include "annals/log.hpp"
#include "annals/persistence/cluster_coordination.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace annals::cluster {

struct LeaseSettings {
  int shard_count = 64;
  /// A lease's lifetime by the store's clock; a dead node's shards are taken
  /// over at most about this long (plus one round) after its last renewal.
  std::chrono::milliseconds ttl{std::chrono::seconds(10)};
  /// How often rounds run. 0: ttl / 3 (two renewals can fail before expiry).
  std::chrono::milliseconds round_interval{0};
  /// Shards handed to another member per round, at most.
  int max_releases_per_round = 4;
  /// This node stops using a lease this long before the store's expiry
  /// (clock rate differences). 0: ttl / 10.
  std::chrono::milliseconds safety_margin{0};

  std::chrono::milliseconds interval() const { return round_interval.count() > 0 ? round_interval : ttl / 3; }
  std::chrono::milliseconds margin() const { return safety_margin.count() > 0 ? safety_margin : ttl / 10; }
};

/// What one round did.
struct LeaseRound {
  std::vector<int> acquired;  ///< newly taken (free, expired, or this node's old process's)
  std::vector<int> renewed;
  std::vector<int> lost;      ///< held before, not renewable (expired, or taken over)
  std::vector<int> released;  ///< handed to the member rendezvous hashing names
  std::vector<int> held;      ///< after the round
};

/// Totals since start, for metrics.
struct LeaseCounters {
  std::uint64_t acquisitions = 0;
  std::uint64_t renewals = 0;
  std::uint64_t losses = 0;
  std::uint64_t releases = 0;
};

class ShardLeaseManager final : public ShardOwnership {
public:
  /// `table` is used by run_round and release_all only, from one thread.
  ShardLeaseManager(std::string node, ShardLeaseTable& table, LeaseSettings settings, LoggerPtr log);

  int shard_count() const override { return settings_.shard_count; }
  std::optional<ShardFence> fence_for(const StreamId& stream) const override;
  /// The same for a shard.
  std::optional<ShardFence> fence_of(int shard) const;

  /// One round over the live members (this node among them). Throws
  /// StoreError when the store fails; the leases held then run out by
  /// themselves in this node's view.
  LeaseRound run_round(const std::vector<std::string>& live_members);

  /// Hands back every shard held (clean shutdown); afterwards fence_for
  /// answers nothing. Best effort: a failure leaves the leases to expire.
  void release_all();

  /// Shards held now (in this node's view), ascending.
  std::vector<int> held() const;
  /// When the next lease held ends in this node's view if not renewed
  /// (nullopt: none still usable).
  std::optional<std::chrono::steady_clock::time_point> next_view_end() const;
  /// The shard's owner as the last round read it ("" when free or expired).
  std::string owner_of(int shard) const;
  LeaseCounters counters() const;
  const std::string& node() const { return node_; }
  const LeaseSettings& settings() const { return settings_; }

private:
  using Clock = std::chrono::steady_clock;
  struct Held {
    ShardFence fence;
    Clock::time_point usable_until;
  };

  std::string node_;
  ShardLeaseTable& table_;
  LeaseSettings settings_;
  LoggerPtr log_;

  mutable std::mutex mtx_;
  std::map<int, Held> held_;
  std::vector<std::string> owners_;  // by shard, from the last round
  LeaseCounters counters_;
};

} // namespace annals::cluster
