#pragma once
// Messages on the command path: to the router and the aggregate actors.
// Local only (see messages.hpp).

#include "annals/actors/messages.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

namespace annals::actors {

using execute_atom = caf::atom_constant<caf::atom("execute")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

/// A command on its way to its aggregate, with the time after which nobody
/// waits for the answer any more (the aggregate then skips it).
struct CommandEnvelope {
  Command command;
  Deadline deadline;
};

/// An aggregate's current state, for diagnostics.
struct AggregateView {
  std::int64_t version = 0;
  json::value state;
  std::optional<Error> error;
};

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::CommandResult)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::CommandEnvelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::AggregateView)
