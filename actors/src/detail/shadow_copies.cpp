// The supervisor's shadow copies: fresh projectors built from position 0
// beside the live one, for a rebuild (swapped in once live) or a
// reconciliation (compared with the live model at its checkpoint). They
// ignore the apply gate until they are the live copy.
#include "supervisor_state.hpp"
#include "error_text.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace annals::actors::detail {

namespace {

ProjectorActor spawn_copy(Self self, ProjectorMode mode) {
  auto& st = self->state;
  mode.fresh = true;
  mode.shadow = true;
  auto copy = spawn_projector(self, st.type, st.ledger.parked(), projector_deps(self),
                              ProjectorSettings{st.settings.options.catch_up_batch, st.settings.store_timeout},
                              std::move(mode));
  self->monitor(copy);
  return copy;
}

// The rebuilt copy is live: it replaces the old one, whose queries it now
// answers (they are asked again; an answer the old one sent first still counts).
void swap_in_rebuild(Self self, std::int64_t position) {
  auto& st = self->state;
  caf::actor_addr old;
  if (st.child) {
    old = st.child.address();
    self->demonitor(st.child.address());
    self->send_exit(st.child, caf::exit_reason::user_shutdown);
  }
  st.child = st.shadows.rebuild;
  st.child_addr = st.child.address();
  st.shadows.rebuild = nullptr;
  st.restart.started(std::chrono::steady_clock::now());
  remember_position(self, position);
  self->send(st.child, snapshot_atom::value);  // the old copy's snapshot must not come back
  relay_again(self, old);
  st.shadows.rebuild_promise.deliver(StoreAck{});
}

} // namespace

void start_rebuild(Self self, caf::typed_response_promise<StoreAck> rp) {
  auto& st = self->state;
  if (st.shadows.rebuild) {
    rp.deliver(StoreAck{Error{errc::overloaded, "a rebuild of '" + st.type->name() + "' is already running"}});
    return;
  }
  // The fresh copy skips what is parked when it starts; a retry under way
  // would be lost from it.
  if (!st.retries.empty()) {
    rp.deliver(StoreAck{Error{errc::overloaded, "a dead-letter retry of '" + st.type->name()
                                                  + "' is under way; rebuild once it is done"}});
    return;
  }
  st.shadows.rebuild_promise = rp;
  st.shadows.rebuild = spawn_copy(self, ProjectorMode{});
}

void start_reconcile(Self self, caf::typed_response_promise<ReconcileOutcome> rp) {
  auto& st = self->state;
  if (!st.child) {
    rp.deliver(ReconcileOutcome{Error{errc::overloaded, "projection '" + st.type->name() + "' is restarting; try again"}});
    return;
  }
  if (!st.retries.empty()) {
    rp.deliver(ReconcileOutcome{Error{errc::overloaded, "a dead-letter retry of '" + st.type->name()
                                                          + "' is under way; reconcile once it is done"}});
    return;
  }
  self->request(st.child, st.settings.store_timeout, dump_atom::value)
    .then(
      [=](ModelDump& live) mutable {
        ProjectorMode mode;
        mode.stop_at = live.position;
        // The fresh copy skips what is parked now, as the live one did.
        std::vector<std::int64_t> parked;
        for (auto p : self->state.ledger.parked())
          if (p <= live.position) parked.push_back(p);
        auto copy = spawn_copy(self, mode);
        self->state.shadows.reconciliations.emplace(
          copy.address(), ShadowCopiesState::Reconciliation{rp, std::move(live), std::move(parked)});
      },
      [=](caf::error& e) mutable {
        rp.deliver(ReconcileOutcome{Error{errc::internal_error, detail::error_text(self->system(), e)}});
      });
}

void on_copy_ready(Self self, const caf::actor_addr& from, ModelDump& fresh) {
  auto& sh = self->state.shadows;
  if (sh.rebuild && from == sh.rebuild.address()) return swap_in_rebuild(self, fresh.position);
  auto r = sh.reconciliations.find(from);
  if (r == sh.reconciliations.end()) return;
  auto differences = json_differences(r->second.live.model, fresh.model);
  const bool equal = differences.empty();
  r->second.promise.deliver(ReconcileOutcome{
    Reconciliation{equal, r->second.live.position, std::move(differences), std::move(r->second.parked)}});
  sh.reconciliations.erase(r);
}

bool on_copy_down(Self self, const caf::actor_addr& source, const caf::error& reason) {
  auto& st = self->state;
  auto& sh = st.shadows;
  if (sh.rebuild && source == sh.rebuild.address()) {
    sh.rebuild = nullptr;
    sh.rebuild_promise.deliver(StoreAck{Error{errc::internal_error, "the rebuild of '" + st.type->name()
                                                                       + "' failed: " + detail::error_text(self->system(), reason)}});
    return true;
  }
  if (auto r = sh.reconciliations.find(source); r != sh.reconciliations.end()) {
    r->second.promise.deliver(ReconcileOutcome{Error{errc::internal_error, "the fresh copy of '" + st.type->name()
                                                                              + "' failed: " + detail::error_text(self->system(), reason)}});
    sh.reconciliations.erase(r);
    return true;
  }
  return false;
}

void stop_copies(Self self, const caf::error& reason) {
  auto& sh = self->state.shadows;
  if (sh.rebuild) self->send_exit(sh.rebuild, reason);
  for (auto& r : sh.reconciliations)
    if (auto copy = caf::actor_cast<caf::actor>(r.first)) self->send_exit(copy, reason);
}

} // namespace annals::actors::detail
