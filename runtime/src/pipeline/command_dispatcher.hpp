#pragma once
// CommandDispatcher: the pipeline's last step, with one job: deliver an
// admitted command to its aggregate's actor and hand back the result. Today's
// implementation is local (LocalDispatcher: the activation registry of this
// process); forwarding to the node that owns the aggregate is meant to be
// another implementation, without touching the stages. No CAF here.

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
};

using ResultHandler = std::function<void(CommandResult)>;

class CommandDispatcher {
public:
  virtual ~CommandDispatcher() = default;
  /// Delivers the command and waits for its result, until its deadline (then
  /// a failed result with code timeout). The caller holds a ticket of the
  /// calls in flight, so the runtime does not stop meanwhile.
  virtual CommandResult dispatch(AdmittedCommand command, const detail::CallsInFlight::Ticket& ticket) = 0;
  /// Delivers the command without waiting; `done` gets the result on a
  /// runtime thread. Commands that one thread dispatches one after another
  /// to one aggregate are delivered in that order.
  virtual void dispatch_async(AdmittedCommand command, ResultHandler done) = 0;
};

} // namespace annals::pipeline
