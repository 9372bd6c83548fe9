#pragma once
// The journal: the single writer of one store. Appends from all aggregates
// queue up while a transaction commits and go into the next one together
// (group commit). Each append is answered only after its transaction
// committed; then the batch's events go to the event bus, in commit order.
// It runs on its own thread (SQLite calls block). Local only: its messages
// carry JSON values and are never serialized.

#include "annals/actors/event_bus.hpp"
#include "annals/log.hpp"
#include "annals/persistence/event_store.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace annals::actors {

using append_atom = caf::atom_constant<caf::atom("append")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using audit_atom = caf::atom_constant<caf::atom("audit")>;
using park_atom = caf::atom_constant<caf::atom("park")>;
using unpark_atom = caf::atom_constant<caf::atom("unpark")>;
using retried_atom = caf::atom_constant<caf::atom("retried")>;

/// The answer to a write that is not an append (park, unpark): empty, or the
/// store's error.
struct StoreAck {
  std::optional<Error> error;
};

/// A parked event the projector has applied late (it had passed it): the
/// dead letter goes and, for a projection that keeps snapshots, the snapshot
/// that includes it is written, in one transaction.
struct RetriedDeadLetter {
  std::string projection;
  std::int64_t position = 0;
  std::optional<ProjectionSnapshot> snapshot;
};

/// The journal's protocol.
using JournalActor = caf::typed_actor<
  // Appends in the next transaction; the outcome comes after the commit.
  caf::replies_to<append_atom, AppendRequest>::with<AppendOutcome>,
  // Saved after the next batch, best effort: a snapshot is only a shortcut.
  caf::reacts_to<snapshot_atom, Snapshot>,
  caf::reacts_to<snapshot_atom, ProjectionSnapshot>,
  // A command's audit line (one that appended nothing), with the next batch.
  caf::reacts_to<audit_atom, AuditRecord>,
  // Parks a projection's poison event, at once.
  caf::replies_to<park_atom, DeadLetter>::with<StoreAck>,
  // Removes the parked event (projection, position), at once.
  caf::replies_to<unpark_atom, std::string, std::int64_t>::with<StoreAck>,
  // Unparks a late-applied retry together with its snapshot (after writing
  // the snapshots already queued, so none of those can replace it), at once.
  caf::replies_to<retried_atom, RetriedDeadLetter>::with<StoreAck>>;

struct JournalOptions {
  std::size_t max_batch = 512;  ///< appends per transaction at most
};

/// Spawns the journal on its own thread. `bus` may be an invalid handle: then
/// nothing is published. On exit it commits what it already holds.
JournalActor spawn_journal(caf::actor_system& sys, std::unique_ptr<EventStore> store, JournalOptions options,
                           EventBusActor bus, LoggerPtr log);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AppendRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AppendOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::ProjectionSnapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AuditRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::DeadLetter)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::StoreAck)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::RetriedDeadLetter)
