#pragma once
// ClusterCoordinator: a node's membership and shard leases, kept by a
// thread of its own on a session of its own to the shared store. At start
// it checks the cluster's shard count and registers the node (refusing a
// name a live member uses); then, every round (LeaseSettings::interval), it
// records its heartbeat, reads the members (a member whose heartbeat is
// older than member_timeout counts as gone), and runs a lease round over the
// live ones. On stop it hands its shards back and says goodbye, so the
// others take over at once.

#include "annals/cluster/shard_lease_manager.hpp"
#include "annals/log.hpp"
#include "annals/persistence/cluster_coordination.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace annals::cluster {

struct CoordinatorSettings {
  ClusterMember me;            ///< node, address and http_address
  LeaseSettings leases;
  /// A member whose heartbeat is older counts as gone (its shards are
  /// spread over the others once their leases expire). 0: leases.ttl.
  std::chrono::milliseconds member_timeout{0};

  std::chrono::milliseconds gone_after() const { return member_timeout.count() > 0 ? member_timeout : leases.ttl; }
};

class ClusterCoordinator {
public:
  /// Opens the coordination session (`open`), checks the shard count, joins,
  /// and runs the first round before returning, so the node starts with its
  /// share of free shards. Throws StoreError (incompatible: another shard
  /// count, a name in use; unavailable: the store) with the message to show.
  ClusterCoordinator(std::function<std::unique_ptr<ClusterCoordination>()> open, CoordinatorSettings settings,
                     LoggerPtr log);
  /// stop() if not stopped yet.
  ~ClusterCoordinator();
  ClusterCoordinator(const ClusterCoordinator&) = delete;
  ClusterCoordinator& operator=(const ClusterCoordinator&) = delete;

  /// What the runtime asks before each append (RuntimeOptions::shard_ownership).
  std::shared_ptr<const ShardLeaseManager> ownership() const { return leases_; }
  const ShardLeaseManager& leases() const { return *leases_; }

  /// The members as the last round read them (with their addresses).
  std::vector<ClusterMember> members() const;
  /// The live members' names as the last round saw them, this node included.
  std::vector<std::string> live_members() const;
  std::int64_t incarnation() const { return incarnation_; }
  /// Rounds completed, and rounds that failed (the store was unreachable).
  std::uint64_t rounds() const;
  std::uint64_t failed_rounds() const;

  /// Called (on the coordinator's thread) with the shards this node stopped
  /// holding — handed back, lost, or run out in its view because renewals
  /// failed (then before the store's expiry: the view ends a safety margin
  /// earlier, and the coordinator wakes for it). ClusterNode stops their
  /// aggregates. Not called for the hand-back of stop(). Replacing it (or
  /// clearing it with nullptr) waits for a call under way.
  void on_shards_left(std::function<void(const std::vector<int>&)> callback);

  /// Called (on the coordinator's thread) after every round that reached
  /// the store, with the members it read; ClusterNode connects to the live
  /// ones. Replacing it waits for a call under way, as on_shards_left.
  void on_round(std::function<void(const std::vector<ClusterMember>&)> callback);

  /// Ends the rounds, hands the shards back and leaves the membership
  /// (best effort: if the store cannot be reached, the leases expire).
  void stop();
  /// Ends the rounds without handing anything back (tests: a node that dies).
  void abandon();

private:
  void loop();
  bool round();  // false: it failed (or this node was replaced)
  // Tells on_shards_left what left the view since the last call.
  void announce_departures();

  std::function<std::unique_ptr<ClusterCoordination>()> open_;
  CoordinatorSettings settings_;
  LoggerPtr log_;
  std::unique_ptr<ClusterCoordination> table_;
  std::shared_ptr<ShardLeaseManager> leases_;
  std::int64_t incarnation_ = 0;

  mutable std::mutex mtx_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<ClusterMember> members_;
  std::vector<std::string> live_;
  std::uint64_t rounds_ = 0, failed_rounds_ = 0;
  std::mutex callback_mtx_;  // held while on_left_ runs: replacing it waits for the call
  std::function<void(const std::vector<int>&)> on_left_;
  std::function<void(const std::vector<ClusterMember>&)> on_round_;
  std::vector<int> announced_;  // held at the last announce_departures (its thread only)
  std::thread thread_;
};

} // namespace annals::cluster
