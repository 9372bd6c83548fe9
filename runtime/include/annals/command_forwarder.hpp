#pragma once
// CommandForwarder: on a clustered node, where a command runs. The runtime
// asks it, for every admitted command, whether this node holds the command's
// shard; if not, it hands the command to the forwarder, which sends it to the
// node that does and brings that node's result back unchanged. annals::cluster
// implements it over the node transport (docs/cluster.md, "Commands on any
// node"); the runtime only knows this interface. No CAF here.

#include "annals/command.hpp"
#include "annals/command_result.hpp"

#include <chrono>
#include <functional>

namespace annals {

/// A forwarded command's outcome.
struct ForwardedResult {
  CommandResult result;
  /// True: `result` is the owner's (its pipeline audited and counted the
  /// command). False: the forwarding itself failed (no live owner, the owner
  /// unreachable, the connection lost, no reply in time) and `result` says so.
  bool from_owner = false;
  /// Nothing was sent: while the command waited for its shard to get an
  /// owner, this node became the owner. The runtime routes it again.
  bool route_again = false;
};

class CommandForwarder {
public:
  virtual ~CommandForwarder() = default;

  /// Whether this node holds the stream's shard now: then the command runs
  /// here. Called once per command, from any thread.
  virtual bool owns(const StreamId& stream) const = 0;

  /// Sends `command` (admitted here: its ids are assigned and it was
  /// authorized) to the node that holds its shard, to run there within
  /// `timeout`. `done` is called exactly once, on any thread (the caller's
  /// too, before forward returns), with the owner's result, or with a
  /// failure of the forwarding:
  /// node_unavailable (no live owner now, the owner unreachable, or the
  /// connection lost while the command was in flight, when its outcome is
  /// unknown) or timeout. A retry with the same idempotency key is safe.
  virtual void forward(Command command, std::chrono::milliseconds timeout,
                       std::function<void(ForwardedResult)> done) = 0;
};

} // namespace annals
