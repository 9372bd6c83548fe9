#pragma once
// CommandDispatcher: the pipeline's last step, with one job: deliver an
// admitted command to its aggregate's actor and hand back the result.
// LocalDispatcher delivers to the activation registry of this process;
// ClusterDispatcher (a clustered node) runs a command there when this node
// holds its shard and forwards it to the node that does otherwise. The
// stages do not change with either. No CAF here.

#include "annals/actors/registered_aggregate.hpp"
#include "annals/command.hpp"
#include "annals/command_result.hpp"
#include "annals/persistence/event_store.hpp"
#include "detail/calls_in_flight.hpp"

#include <chrono>
#include <functional>
#include <optional>

namespace annals::pipeline {

/// A command that passed every stage.
struct AdmittedCommand {
  Command command;                           ///< ids assigned
  actors::RegisteredAggregatePtr aggregate;  ///< its type, resolved
  std::optional<AuditRecord> audit;          ///< written with its events, when set
  std::chrono::steady_clock::time_point deadline;  ///< nobody waits for the result after this
  /// It came from another node (forwarded to this one as its shard's owner):
  /// it runs here or fails with not_owner, and is never forwarded again.
  bool arrived_forwarded = false;
};

/// A dispatched command's result, and where it ran.
struct Dispatched {
  CommandResult result;
  /// Sent to the node that holds its shard.
  bool forwarded = false;
  /// ... and that node's pipeline ran it (audited and counted it there).
  bool ran_elsewhere = false;
};

using ResultHandler = std::function<void(CommandResult)>;
using DispatchHandler = std::function<void(Dispatched)>;

class CommandDispatcher {
public:
  virtual ~CommandDispatcher() = default;
  /// Delivers the command and waits for its result, until its deadline (then
  /// a failed result with code timeout). The caller holds a ticket of the
  /// calls in flight, so the runtime does not stop meanwhile.
  virtual Dispatched dispatch(AdmittedCommand command, const detail::CallsInFlight::Ticket& ticket) = 0;
  /// Delivers the command without waiting; `done` gets the result on a
  /// runtime thread. Commands that one thread dispatches one after another
  /// to one aggregate are delivered in that order.
  virtual void dispatch_async(AdmittedCommand command, DispatchHandler done) = 0;
};

} // namespace annals::pipeline
