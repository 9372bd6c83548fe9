#pragma once
// The ordered relay: where asynchronous callers hand in commands. A plain
// thread enqueues into the relay's mailbox in program order, and the relay
// passes commands on to the activation registry in that same order, so the
// commands a thread sends one after another to one aggregate apply in the
// order sent (the runtime picks the relay by stream). Each result is handed
// to the command's callback, on the relay's (a runtime) thread.

#include "annals/actors/activation_registry.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <functional>
#include <memory>

namespace annals::actors {

using ResultCallback = std::shared_ptr<const std::function<void(CommandResult)>>;

/// The ordered relay's interface.
using OrderedRelayActor = caf::typed_actor<
  // a command to pass on to the registry; the result goes to the callback
  caf::reacts_to<execute_atom, RegisteredAggregatePtr, CommandEnvelope, ResultCallback>,
  // a result decided before dispatch, for the callback: so that callbacks
  // always run on a runtime thread
  caf::reacts_to<CommandResult, ResultCallback>>;

OrderedRelayActor spawn_ordered_relay(caf::actor_system& sys, ActivationRegistryActor registry);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ResultCallback)
