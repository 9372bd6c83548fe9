#pragma once
// A projection actor (projector): keeps one projection's read model in
// memory. It subscribes to the event bus, reads from the store whatever it
// has not seen (from its snapshot's checkpoint, or from the start), then
// applies live batches. An event at or below its checkpoint is a duplicate
// and skipped; one beyond checkpoint + 1 reveals a gap and sends it back to
// the store. Parked positions are skipped. If applying an event throws, it
// reports the event to its supervisor and dies; the supervisor restarts it.
//
// Accepted events (past the duplicate and gap checks, which compare with the
// last event accepted) wait in a queue and are applied from it: at once, or,
// with an injected delay (ProjectionFaults), one per delay on a timer, so that
// queries keep being answered from the model as it is. A catch-up step reads
// on (or goes live) only once its events are applied; while events wait, at
// most catch_up_batch are held and the rest is read from the store later.
// The live copy also consults the injected fail fault before each event.
// Queries waiting for a position are answered as soon as it is applied, between
// two events of a batch (before the next event, which may kill the projector).
//
// Protocol:  (query_atom, QueryRequest)  -> QueryReply (waits for min_position;
//                                           plain queries of a restarted projector
//                                           wait for ProjectorMode::predecessor_position)
//            (retry_atom, Event)         -> StoreAck  (apply a parked event now)
//            (status_atom)               -> ProjectionInfo
//            (crash_atom)                -> dies (fault injection)
//            (dump_atom)                 -> ModelDump
//            (snapshot_atom)             -> saves a read-model snapshot now
//            (faults_atom)               -> the injected faults changed (a new delay)
//            (drain_atom, n)             -> (its own timer) apply the next delayed event
// A shadow copy (ProjectorMode) builds a fresh model beside the live one for
// a rebuild or a reconciliation and reports (ready_atom, ModelDump) to
// `notify` when it is live (rebuild) or has reached `stop_at` (reconcile).

#include "annals/actors/instruments.hpp"
#include "annals/actors/journal.hpp"
#include "annals/actors/messages.hpp"
#include "annals/actors/projection_faults.hpp"
#include "annals/actors/store_reader.hpp"
#include "annals/projection_type.hpp"

#include <caf/actor.hpp>

#include <memory>
#include <optional>
#include <set>

namespace annals::actors {

using ProjectionTypePtr = std::shared_ptr<const ProjectionType>;

struct ProjectorDeps {
  StoreReaderActor reader;
  JournalActor journal;
  caf::actor bus;
  caf::actor supervisor;
  UpcastersPtr upcasters;
  ProjectionInstruments instruments;
  ProjectionFaultsPtr faults;  ///< injected faults (shared with the runtime; may be null)
};

struct ProjectorSettings {
  std::size_t catch_up_batch = 500;
  std::chrono::milliseconds store_timeout{std::chrono::seconds(30)};
};

struct ProjectorMode {
  bool fresh = false;          ///< start from position 0, ignoring the saved snapshot
  std::optional<std::int64_t> stop_at;  ///< catch up to this position only, report, stop (no live events)
  caf::actor notify;           ///< gets (ready_atom, ModelDump)
  /// The position the previous live projector had reached (0: unknown or
  /// none). Until this one gets there (or goes live), plain queries
  /// (min_position 0) wait for it, so a restart never answers from an older
  /// model than its predecessor did; at their deadline they are answered
  /// with the model as it is.
  std::int64_t predecessor_position = 0;
};

caf::actor spawn_projector(caf::local_actor* parent, ProjectionTypePtr type, std::set<std::int64_t> parked,
                           ProjectorDeps deps, ProjectorSettings settings, ProjectorMode mode = {});

} // namespace annals::actors
