#pragma once
// The command gateway: where asynchronous callers hand in commands. A plain
// thread enqueues into the gateway's mailbox in program order, and the
// gateway forwards to the router in that same order, so commands a thread
// sends one after another to one aggregate apply in the order sent (the
// runtime picks the gateway by stream). The reply is handed to a callback.
//
// Protocol:  (execute_atom, CommandEnvelope, ResultCallback) -> nothing
//            (CommandResult, ResultCallback)  hands a result decided before
//                                             dispatch to its callback, so that
//                                             callbacks always run on a runtime thread

#include "annals/actors/messages.hpp"

#include <caf/actor.hpp>

#include <functional>
#include <memory>

namespace annals::actors {

using ResultCallback = std::shared_ptr<const std::function<void(CommandResult)>>;

caf::actor spawn_command_gateway(caf::actor_system& sys, caf::actor router);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ResultCallback)
