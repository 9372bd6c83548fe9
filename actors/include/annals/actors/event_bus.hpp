#pragma once
// The event bus: fans the journal's committed batches out to projectors, in
// commit order. Memory stays bounded: each subscriber may have at most
// `window` unacknowledged batches; past that the bus stops sending it events
// and, once it acknowledges, only tells it the new head position, and the
// projector reads what it missed from the store (catch-up).

#include "annals/actors/messages.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstddef>
#include <memory>
#include <vector>

namespace annals::actors {

using committed_atom = caf::atom_constant<caf::atom("committed")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using head_atom = caf::atom_constant<caf::atom("head")>;

/// Events of one committed batch, in position order, shared by all receivers.
using CommittedEvents = std::shared_ptr<const std::vector<Event>>;

/// What the bus sends to a subscriber: a batch, or (after it withheld
/// batches) the head position, for the subscriber to read up to it itself.
/// Each is acknowledged with ack_atom.
using EventSubscriberActor = caf::typed_actor<
  caf::reacts_to<committed_atom, CommittedEvents>,
  caf::reacts_to<head_atom, std::int64_t>>;

using EventBusActor = caf::typed_actor<
  /// From the journal, after each commit.
  caf::reacts_to<committed_atom, CommittedEvents>,
  /// From the log follower: the store's head moved, by another process's
  /// commits (or this one's, seen first there); subscribers read up to it.
  caf::reacts_to<head_atom, std::int64_t>,
  /// Starts sending to the subscriber (monitored; dropped when it dies).
  caf::reacts_to<subscribe_atom, EventSubscriberActor>,
  /// The sender finished a batch (or a head notice).
  caf::reacts_to<ack_atom>>;

EventBusActor spawn_event_bus(caf::actor_system& sys, std::size_t window);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::CommittedEvents)
