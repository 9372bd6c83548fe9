#pragma once
// The event bus: fans the journal's committed batches out to projection
// actors, in commit order. Memory stays bounded: each subscriber may have at
// most `window` unacknowledged batches; past that the bus stops sending it
// events and, once it acknowledges, only tells it the new head position, and
// the projection reads what it missed from the store (catch-up).
//
// Protocol:  (committed_atom, CommittedEvents)   from the journal
//            (subscribe_atom)                   from a projection actor
//            (ack_atom)                         a subscriber finished a batch
// To subscribers: (committed_atom, CommittedEvents) or (head_atom, position).

#include <caf/actor.hpp>

#include <cstddef>

namespace annals::actors {

caf::actor spawn_event_bus(caf::actor_system& sys, std::size_t window);

} // namespace annals::actors
