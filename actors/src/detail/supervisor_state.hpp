#pragma once
// The projection supervisor's state: the parts it composes, each with one
// job (see projection_supervisor.hpp). Internal to actors/src.

#include "annals/actors/projection_supervisor.hpp"

#include "failure_ledger.hpp"
#include "restart_policy.hpp"

#include <caf/actor_addr.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <map>
#include <optional>
#include <string>

namespace annals::actors::detail {

using restart_atom = caf::atom_constant<caf::atom("restart")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;

// The supervisor as its children and its own timers see it.
using SupervisorSelfActor = ProjectionSupervisorActor::extend_with<ProjectorOwnerActor>::extend<
  caf::reacts_to<restart_atom, std::uint64_t>,  // the backoff is over (numbered: stale ones are ignored)
  caf::reacts_to<tick_atom>>;                   // a held query's deadline may have passed

// A query not answered yet: relayed to a projector (`at`), or held while no
// projector runs (or after the one it was relayed to died).
struct PendingQuery {
  QueryRequest request;
  caf::typed_response_promise<QueryReply> promise;
  caf::actor_addr at;         // the projector it was relayed to (none: held)
  std::uint64_t attempt = 0;  // the relay whose errors still count
};

// The query relay's bookkeeping (query_relay.cpp).
struct QueryRelayState {
  std::map<std::uint64_t, PendingQuery> queries;  // not answered yet, by number
  std::uint64_t next_query = 0;
  std::size_t held = 0;                  // those of them without a projector (bounded)
};

// The shadow copies under way (shadow_copies.cpp).
struct ShadowCopiesState {
  ProjectorActor rebuild;               // a fresh copy that will replace the live one
  caf::typed_response_promise<StoreAck> rebuild_promise;
  struct Reconciliation {
    caf::typed_response_promise<ReconcileOutcome> promise;
    ModelDump live;
    std::vector<std::int64_t> parked;  // what the fresh copy skips up to live.position
  };
  std::map<caf::actor_addr, Reconciliation> reconciliations;  // by the fresh copy's address
};

struct SupervisorState {
  ProjectionTypePtr type;
  SupervisorDeps deps;
  SupervisorSettings settings;

  ProjectorActor child;
  caf::actor_addr child_addr;  // the live copy, also just after it died (its failure report may come late)
  std::uint64_t generation = 0;
  RestartPolicy restart;
  std::int64_t restarts = 0;
  std::optional<std::string> last_error;
  std::int64_t reached = 0;    // the highest position the live copy is known to have applied

  FailureLedger ledger;
  bool parking = false;        // a park write is under way
  // Retries handed to the live projector and not answered yet, by number;
  // failed when it dies (its promises die with it).
  std::map<std::uint64_t, std::pair<std::int64_t, caf::typed_response_promise<StoreAck>>> retries;
  std::uint64_t next_retry = 0;
  ApplyGatePtr gate;           // null unless faults were injected

  QueryRelayState relay;
  ShadowCopiesState shadows;

  static inline const char* name = "annals.projection_supervisor";
};

using Self = SupervisorSelfActor::stateful_pointer<SupervisorState>;

inline void remember_position(Self self, std::int64_t position) {
  self->state.reached = std::max(self->state.reached, position);
}

// The projector's dependencies, as every copy gets them.
ProjectorDeps projector_deps(Self self);

// query_relay.cpp
void accept_query(Self self, QueryRequest q, caf::typed_response_promise<QueryReply> rp);
void hold_queries_of(Self self, const caf::actor_addr& dead);  // its projector died
void relay_held(Self self);                                    // a projector runs
void relay_again(Self self, const caf::actor_addr& replaced);  // a rebuilt copy replaced this one
void expire_held(Self self);                                   // a deadline may have passed
void fail_all_queries(Self self, const Error& why);            // shutting down

// shadow_copies.cpp
void start_rebuild(Self self, caf::typed_response_promise<StoreAck> rp);
void start_reconcile(Self self, caf::typed_response_promise<ReconcileOutcome> rp);
void on_copy_ready(Self self, const caf::actor_addr& from, ModelDump& fresh);
bool on_copy_down(Self self, const caf::actor_addr& source, const caf::error& reason);  // true: it was a copy
void stop_copies(Self self, const caf::error& reason);

} // namespace annals::actors::detail
