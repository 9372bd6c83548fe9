#pragma once
// The projector: keeps one projection's read model in memory. It subscribes
// to the event bus, reads from the store whatever it has not seen (from its
// snapshot's checkpoint, or from the start), then applies live batches. An
// event at or below its checkpoint is a duplicate and skipped; one beyond
// checkpoint + 1 reveals a gap and sends it back to the store. Parked
// positions are skipped. If applying an event throws, it reports the event to
// its supervisor and dies; the supervisor restarts it.
//
// Accepted events (past the duplicate and gap checks, which compare with the
// last event accepted) wait in a queue and are applied from it: at once, or,
// when an ApplyGate (apply_gate.hpp; fault injection only) sets a pace, one
// per pace on a timer, so that queries keep being answered from the model as
// it is. A catch-up step reads on (or goes live) only once its events are
// applied; while events wait, at most catch_up_batch are held and the rest is
// read from the store later. Queries waiting for a position are answered as
// soon as it is applied, between two events of a batch (before the next
// event, which may kill the projector).
//
// A shadow copy (ProjectorMode) builds a fresh model beside the live one for
// a rebuild or a reconciliation and reports (ready_atom, ModelDump) to its
// owner when it is live (rebuild) or has reached `stop_at` (reconcile). It
// ignores the gate until it is the live copy.

#include "annals/actors/apply_gate.hpp"
#include "annals/actors/event_bus.hpp"
#include "annals/actors/instruments.hpp"
#include "annals/actors/journal.hpp"
#include "annals/actors/messages.hpp"
#include "annals/actors/store_reader.hpp"
#include "annals/projection_status.hpp"
#include "annals/projection_type.hpp"

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <set>

namespace annals::actors {

using query_atom = caf::atom_constant<caf::atom("query")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using dump_atom = caf::atom_constant<caf::atom("dump")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using gate_atom = caf::atom_constant<caf::atom("gate")>;
using pace_atom = caf::atom_constant<caf::atom("pace")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;

/// A query on its way to a projection.
struct QueryRequest {
  std::string name;
  json::object args;
  std::int64_t min_position = 0;   ///< answer only once this position is applied
  Deadline deadline;
};

struct QueryReply {
  std::optional<Error> error;
  json::value value;
  std::int64_t position = 0;       ///< the projection's checkpoint when it answered
};

/// A projection's whole read model at a checkpoint.
struct ModelDump {
  json::value model;
  std::int64_t position = 0;
};

using ProjectorActor = caf::typed_actor<
  /// From the bus (EventSubscriberActor).
  caf::reacts_to<committed_atom, CommittedEvents>,
  caf::reacts_to<head_atom, std::int64_t>,
  /// Waits for min_position; plain queries of a restarted projector wait for
  /// ProjectorMode::predecessor_position.
  caf::replies_to<query_atom, QueryRequest>::with<QueryReply>,
  /// Applies a parked event now (through the gate, like any apply).
  caf::replies_to<retry_atom, Event>::with<StoreAck>,
  /// name, running and checkpoint; the supervisor fills in the rest.
  caf::replies_to<status_atom>::with<ProjectionStatus>,
  caf::replies_to<dump_atom>::with<ModelDump>,
  /// Saves a read-model snapshot now.
  caf::reacts_to<snapshot_atom>,
  /// Installs the apply gate (fault injection); ok once it applies.
  caf::replies_to<gate_atom, ApplyGatePtr>::with<caf::ok_atom>,
  /// The gate's pace changed: waiting events are rescheduled.
  caf::reacts_to<pace_atom>>;

/// What a projector tells its owner (the supervisor).
using ProjectorOwnerActor = caf::typed_actor<
  /// Applying this event failed (error and position in the letter); the
  /// projector is dying.
  caf::reacts_to<failed_atom, DeadLetter>,
  /// A shadow copy is done: live (rebuild) or at stop_at (reconcile).
  caf::reacts_to<ready_atom, ModelDump>>;

using ProjectionTypePtr = std::shared_ptr<const ProjectionType>;

struct ProjectorDeps {
  StoreReaderActor reader;
  JournalActor journal;
  EventBusActor bus;
  ProjectorOwnerActor owner;
  UpcastersPtr upcasters;
  ProjectionInstruments instruments;
  ApplyGatePtr gate;  ///< null unless faults were injected into this projection
};

struct ProjectorSettings {
  std::size_t catch_up_batch = 500;
  std::chrono::milliseconds store_timeout{std::chrono::seconds(30)};
};

struct ProjectorMode {
  bool fresh = false;          ///< start from position 0, ignoring the saved snapshot
  std::optional<std::int64_t> stop_at;  ///< catch up to this position only, report, stop (no live events)
  bool shadow = false;         ///< a fresh copy: reports ready_atom to its owner, ignores the gate until then
  /// The position the previous live projector had reached (0: unknown or
  /// none). Until this one gets there (or goes live), plain queries
  /// (min_position 0) wait for it, so a restart never answers from an older
  /// model than its predecessor did; at their deadline they are answered
  /// with the model as it is.
  std::int64_t predecessor_position = 0;
};

ProjectorActor spawn_projector(caf::local_actor* parent, ProjectionTypePtr type, std::set<std::int64_t> parked,
                                ProjectorDeps deps, ProjectorSettings settings, ProjectorMode mode = {});

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::QueryRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::QueryReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ModelDump)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ApplyGatePtr)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::ProjectionStatus)
