#pragma once
// NodeForwarder (internal to annals::cluster): the runtime's CommandForwarder
// over the node transport, and the transport's handler for commands that
// other nodes forward here. A forwarded command travels as its JSON envelope
// (ids, principal and correlation id included) with the time left of the
// sender's deadline; the owner's CommandResult comes back as JSON, positions
// and events included.
//
//   request: {"command": {...envelope...}, "timeout_ms": 4870}
//   reply:   {...CommandResult::to_json()...}
//
// While a shard has no owner this node knows of (it is being handed from
// one node to another, or its owner died and the lease expired), or the
// owner is one this node has not seen join yet, its commands wait, up to `handoff_wait` and their deadline, in a parking lot
// that looks the leases up in the store (at most every lookup_interval)
// rather than waiting for the next lease round; then they go to the new
// owner, or back to the runtime if that is this node, or fail with
// node_unavailable. A known owner that cannot be reached fails fast: no
// waiting for a dead node.

#include "annals/cluster/cluster_coordinator.hpp"
#include "annals/cluster/node_transport.hpp"
#include "annals/command_forwarder.hpp"
#include "annals/log.hpp"

#include <condition_variable>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace annals {
class Runtime;
}

namespace annals::cluster {

struct ForwarderSettings {
  std::string me;
  std::chrono::milliseconds lease_ttl{10000};
  /// How long a command waits for its shard to get an owner (0: not at all).
  std::chrono::milliseconds handoff_wait{0};
  std::chrono::milliseconds lookup_interval{100};
  /// A session of its own on the lease and membership tables, for the
  /// parking lot's lookups.
  std::function<std::unique_ptr<ClusterCoordination>()> open_lookup;
};

class NodeForwarder final : public CommandForwarder {
public:
  NodeForwarder(ForwarderSettings settings, LoggerPtr log);
  /// stop() if not stopped yet.
  ~NodeForwarder() override;

  /// The node's parts, once they exist (before any command).
  void attach(NodeTransport* transport, const ClusterCoordinator* coordinator);
  /// Where forwarded commands run; null: refused (starting or stopping).
  void serve(Runtime* runtime);
  /// Fails every parked command (node_unavailable) and ends the parking lot;
  /// later forwards fail at once, and none uses the transport any more (it
  /// may go then).
  void stop();

  bool owns(const StreamId& stream) const override;
  void forward(Command command, std::chrono::milliseconds timeout,
               std::function<void(ForwardedResult)> done) override;

  /// The transport's RequestHandler: a command forwarded here.
  void handle(const std::string& from_node, const std::string& request, Reply reply);

private:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(ForwardedResult)>;
  struct Parked {
    Command command;
    Clock::time_point deadline;  ///< the command's own
    Clock::time_point give_up;   ///< min(deadline, parked + handoff_wait)
    Done done;
  };

  /// Sends to `owner`, or answers: true when the command is dealt with.
  bool route(Command& command, Clock::time_point deadline, const std::string& owner, Done& done);
  void send(const std::string& owner, const PeerAddress& peer, Command command, Clock::time_point deadline, Done done);
  /// Where `node` listens: by the coordinator's last round, else by the
  /// parking lot's last lookup.
  std::optional<PeerAddress> address_of(const std::string& node) const;
  std::string no_owner_message(const StreamId& stream) const;
  void park_loop();

  const ForwarderSettings settings_;
  LoggerPtr log_;
  std::mutex transport_mtx_;  // held around a send: stop() waits for it before the transport may go
  NodeTransport* transport_ = nullptr;
  const ClusterCoordinator* coordinator_ = nullptr;

  std::mutex serving_mtx_;  // held while a forwarded command is handed to the runtime
  Runtime* runtime_ = nullptr;

  std::mutex park_mtx_;
  std::condition_variable park_cv_;
  std::list<Parked> parked_;
  bool stopping_ = false;
  std::thread park_thread_;  // started with the first parked command
  // The parking lot's view: shard -> owner of a valid lease, by the last lookup.
  // Owners that answered not_owner for a shard (its lease moved on): the
  // round's view naming them is stale until a lookup made after that.
  mutable std::mutex refused_mtx_;
  std::map<int, std::pair<std::string, Clock::time_point>> refused_;
  bool refused_by(int shard, const std::string& owner, Clock::time_point* at = nullptr) const;

  std::unique_ptr<ClusterCoordination> lookup_;
  std::map<int, std::string> looked_up_;
  mutable std::mutex looked_up_mtx_;  // looked_up_members_ is read by address_of on any thread
  std::vector<ClusterMember> looked_up_members_;
  Clock::time_point looked_up_at_{};
};

} // namespace annals::cluster
