#pragma once
// The projection supervisor: owns one projection's projector and is where
// every request about the projection goes (queries, status, dead-letter
// retries, rebuild, reconcile). Its parts, each in its own file under
// actors/src/detail/:
//
// - restart policy (restart_policy.hpp): a projector that dies is restarted
//   after a backoff that grows by `backoff_factor` up to `max_backoff` and
//   resets after `reset_after` of stable running; it resumes from its
//   snapshot or rebuilds from the store.
// - parking (failure_ledger.hpp): the same event failing `max_attempts` times
//   is parked in the store's dead-letter table and skipped from then on;
//   retry_atom applies a parked event again (read it, apply it, unpark it).
// - query relay (query_relay.hpp): queries are relayed to the projector
//   (asked, not delegated), so a query is not lost when its projector dies
//   before answering: it is held, with those that arrive while no projector
//   runs (bounded: max_waiting_queries, then `overloaded`), and asked again
//   of the next projector (or of a rebuilt copy that replaces the live one).
//   A held query whose deadline passes is answered with `timeout` and the
//   position the supervisor knows its projector reached (from a failure
//   report: everything before the failing event; or from the latest status
//   or query answer). A restarted projector is told that position
//   (ProjectorMode::predecessor_position) so plain queries are not answered
//   from an older model than before the restart.
// - shadow copies (shadow_copies.hpp): a rebuild builds a fresh copy from
//   position 0 while the old one keeps answering, then swaps it in; a
//   reconciliation builds one up to the live copy's checkpoint and compares.
//
// An apply gate (apply_gate.hpp; fault injection only) once installed is
// handed to every projector it spawns, so faults outlive restarts.

#include "annals/actors/projector.hpp"
#include "annals/expected.hpp"
#include "annals/projection_options.hpp"

#include <caf/actor.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>

namespace annals::actors {

using rebuild_atom = caf::atom_constant<caf::atom("rebuild")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

/// The outcome of a reconciliation: the comparison, or why there is none.
using ReconcileOutcome = Expected<Reconciliation>;

using ProjectionSupervisorActor = caf::typed_actor<
  caf::replies_to<query_atom, QueryRequest>::with<QueryReply>,
  /// Everything but head and backlog (the runtime adds those).
  caf::replies_to<status_atom>::with<ProjectionStatus>,
  /// Applies the parked event at this position again; unparks it if it applies.
  caf::replies_to<retry_atom, std::int64_t>::with<StoreAck>,
  /// Once a fresh copy, built from position 0 while the old one kept
  /// answering, has replaced it.
  caf::replies_to<rebuild_atom>::with<StoreAck>,
  /// A fresh copy built up to the live copy's checkpoint, compared with it.
  caf::replies_to<reconcile_atom>::with<ReconcileOutcome>,
  /// Fault injection: the live projector dies now (and is restarted).
  caf::reacts_to<crash_atom>,
  /// Fault injection: installs the apply gate in the live projector and
  /// every later one; ok once the live projector has it.
  caf::replies_to<gate_atom, ApplyGatePtr>::with<caf::ok_atom>,
  /// Fault injection: the gate's pace changed.
  caf::reacts_to<pace_atom>>;

struct SupervisorDeps {
  StoreReaderActor reader;
  JournalActor journal;
  EventBusActor bus;
  UpcastersPtr upcasters;
  ProjectionInstruments instruments;
  LoggerPtr log;
};

struct SupervisorSettings {
  ProjectionOptions options;  ///< backoff, max_attempts, catch_up_batch (at least 1 each)
  std::chrono::milliseconds store_timeout{std::chrono::seconds(30)};
  std::size_t max_waiting_queries = 10000;
};

ProjectionSupervisorActor spawn_projection_supervisor(caf::actor_system& sys, ProjectionTypePtr type,
                                                        SupervisorDeps deps, SupervisorSettings settings);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReconcileOutcome)
