#pragma once
// LocalDispatcher: delivers commands to the aggregates of this process,
// through its activation registry. Asynchronous commands go through the
// ordered relay of their stream, which keeps one thread's commands to one
// aggregate in order and runs the result handlers on its thread.

#include "pipeline/command_dispatcher.hpp"

#include "annals/actors/activation_registry.hpp"
#include "annals/actors/ordered_relay.hpp"

#include <caf/fwd.hpp>

#include <vector>

namespace annals::pipeline {

class LocalDispatcher final : public CommandDispatcher {
public:
  /// The handles are the runtime's: they must outlive every call.
  LocalDispatcher(caf::actor_system& sys, const actors::ActivationRegistryActor& registry,
                  const std::vector<actors::OrderedRelayActor>& relays);

  Dispatched dispatch(AdmittedCommand command, const detail::CallsInFlight::Ticket& ticket) override;
  void dispatch_async(AdmittedCommand command, DispatchHandler done) override;
  /// The same, with the result alone (ClusterDispatcher's local path).
  CommandResult run_here(AdmittedCommand command, const detail::CallsInFlight::Ticket& ticket);
  void run_here_async(AdmittedCommand command, ResultHandler done);

  /// A result decided before dispatch, handed to `done` by the stream's
  /// relay (CommandPipeline::HandBack).
  void hand_back(const StreamId& stream, CommandResult result, ResultHandler done);

private:
  const actors::OrderedRelayActor& relay_of(const StreamId& stream) const;

  caf::actor_system& sys_;
  const actors::ActivationRegistryActor& registry_;
  const std::vector<actors::OrderedRelayActor>& relays_;
};

} // namespace annals::pipeline
