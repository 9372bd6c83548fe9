#pragma once
// The activation registry: finds the actor of a command's aggregate,
// activating it on first use (like Orleans' virtual actors), and delegates
// the request to it (the aggregate answers the caller directly). Exactly one
// actor per stream is live: while one stops (passivation, eviction), requests
// for its stream wait here and go to the next actor once the old one is down.
// Above max_active live aggregates it evicts the least recently used. It never looks aggregate types up: the
// runtime resolved the type before dispatch and sends it along.

#include "annals/actors/aggregate_actor.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstddef>
#include <vector>

namespace annals::actors {

using count_atom = caf::atom_constant<caf::atom("count")>;
using stop_shards_atom = caf::atom_constant<caf::atom("stopshards")>;

/// The activation registry's interface.
using ActivationRegistryActor = caf::typed_actor<
  // a command for the aggregate of its stream, of the given type (delegated)
  caf::replies_to<execute_atom, RegisteredAggregatePtr, CommandEnvelope>::with<CommandResult>,
  // the state of one aggregate instance, activating it (delegated)
  caf::replies_to<inspect_atom, RegisteredAggregatePtr, StreamId>::with<Expected<AggregateInspection>>,
  // from an aggregate: may I stop, having received this many requests (PassivationActor)
  caf::replies_to<passivate_atom, std::uint64_t>::with<bool>,
  // the number of live aggregate actors (including ones stopping)
  caf::replies_to<count_atom>::with<std::size_t>,
  // clustered nodes: ask the live aggregates of these shards (of shard_count)
  // to stop once idle, the node no longer holds their leases; replies how
  // many were asked
  caf::replies_to<stop_shards_atom, std::vector<int>, int>::with<std::size_t>>;

struct RegistryDeps {
  JournalActor journal;
  std::vector<StoreReaderActor> readers;  ///< one is chosen per stream
  UpcastersPtr upcasters;
  LoggerPtr log;
  std::shared_ptr<const ShardOwnership> ownership;  ///< clustered nodes only (AggregateDeps::ownership)
};

/// `max_active`: above this many live aggregates the least recently used are
/// asked to passivate as soon as they are idle (0: no bound).
ActivationRegistryActor spawn_activation_registry(caf::actor_system& sys, RegistryDeps deps,
                                                    AggregateSettings settings, std::size_t max_active);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::RegisteredAggregatePtr)
