#pragma once
// The projection supervisor: owns one projection's projector. A projector
// that dies is restarted after a backoff that grows by `factor` up to `max`
// and resets after a stable period; it resumes from its snapshot or rebuilds
// from the store. The same event failing `max_attempts` times is parked in
// the store's dead-letter table and skipped from then on.
//
// Queries are relayed to the projector (asked, not delegated), so a query is
// not lost when its projector dies before answering: it is held, with those
// that arrive while no projector runs (bounded: max_waiting_queries, then
// `overloaded`), and asked again of the next projector (or of a rebuilt copy
// that replaces the live one). A held query whose deadline passes is answered
// with `timeout` and the position the supervisor knows its projector reached
// (from a failure report: everything before the failing event; or from the
// latest status or query answer). A restarted projector is told that position
// (ProjectorMode::predecessor_position) so plain queries are not answered
// from an older model than before the restart.
//
// Protocol:  (query_atom, QueryRequest)      -> QueryReply
//            (status_atom)                   -> ProjectionInfo
//            (retry_atom, std::int64_t pos)  -> StoreAck
//            (crash_atom)                    -> the projector dies (fault injection)
//            (faults_atom)                   -> tells the projector its injected faults changed
//            (rebuild_atom)                  -> StoreAck once a fresh copy, built from
//                                               position 0 while the old one kept answering,
//                                               has replaced it
//            (reconcile_atom)                -> ReconcileReport: a fresh copy built up to the
//                                               live copy's checkpoint, compared with it

#include "annals/actors/projection_actor.hpp"

#include <caf/actor.hpp>

#include <chrono>

namespace annals::actors {

struct SupervisorSettings {
  std::chrono::milliseconds initial_backoff{50};
  double backoff_factor = 2.0;
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};
  std::chrono::milliseconds reset_after{std::chrono::seconds(30)};
  int max_attempts = 3;
  std::size_t max_waiting_queries = 10000;
  ProjectorSettings projector;
};

struct SupervisorDeps {
  StoreReaderActor reader;
  JournalActor journal;
  caf::actor bus;
  UpcastersPtr upcasters;
  ProjectionInstruments instruments;
  LoggerPtr log;
  ProjectionFaultsPtr faults;  ///< handed to every projector it spawns
};

caf::actor spawn_projection_supervisor(caf::actor_system& sys, ProjectionTypePtr type, SupervisorDeps deps,
                                       SupervisorSettings settings);

} // namespace annals::actors
