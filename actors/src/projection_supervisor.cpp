// The projection supervisor: composes its parts (actors/src/detail/: the
// restart policy, the failure ledger for parking, the query relay, the
// shadow copies) around one live projector. See projection_supervisor.hpp.
#include "annals/actors/projection_supervisor.hpp"
#include "detail/error_text.hpp"

#include "detail/supervisor_state.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

namespace annals::actors {

namespace detail {

ProjectorDeps projector_deps(Self self) {
  auto& st = self->state;
  return ProjectorDeps{st.deps.reader,   st.deps.journal, st.deps.bus, caf::actor_cast<ProjectorOwnerActor>(self),
                       st.deps.upcasters, st.deps.instruments, st.gate};
}

} // namespace detail

namespace {

using namespace detail;

ProjectorSettings projector_settings(const SupervisorState& st) {
  return ProjectorSettings{st.settings.options.catch_up_batch, st.settings.store_timeout};
}

void update_parked_gauge(const SupervisorState& st) {
  st.deps.instruments.parked->Set(static_cast<double>(st.ledger.parked().size()));
}

// ---- restart ---------------------------------------------------------------

void start_child(Self self) {
  auto& st = self->state;
  if (st.child) return;
  ProjectorMode mode;
  mode.predecessor_position = st.reached;  // plain queries wait until the new one is back there
  st.child = spawn_projector(self, st.type, st.ledger.parked(), projector_deps(self), projector_settings(st),
                             std::move(mode));
  self->monitor(st.child);
  st.child_addr = st.child.address();
  st.restart.started(std::chrono::steady_clock::now());
  relay_held(self);
}

// Reads what the store lists as parked, then starts the projector with it:
// the store, not this supervisor's memory, says what is parked (a retry may
// have been unparked by the store just before a projector died).
void load_parked_and_start(Self self) {
  auto& st = self->state;
  self->request(st.deps.reader, st.settings.store_timeout, ReadDeadLetters{st.type->name()})
    .then(
      [=](Expected<std::vector<DeadLetter>>& letters) {
        auto& s = self->state;
        if (letters) {
          std::set<std::int64_t> parked;
          for (const auto& d : *letters) parked.insert(d.position);
          s.ledger.replace_parked(std::move(parked));
        } else {
          s.last_error = letters.error().message;
        }
        update_parked_gauge(s);
        start_child(self);
      },
      [=](caf::error&) { start_child(self); });
}

// Every retry handed to the live projector fails: it died with their promises.
void fail_retries(Self self) {
  auto& st = self->state;
  for (auto& [id, r] : st.retries)
    r.second.deliver(StoreAck{Error{errc::overloaded,
                                    "projection '" + st.type->name() + "' restarted before the retry of event "
                                      + std::to_string(r.first) + " completed; `dead-letters list` shows whether "
                                      "it is still parked (if not, it is applied at its position)"}});
  st.retries.clear();
}

// The live projector died: hold its queries, count the restart, wait out the backoff.
void on_child_down(Self self, const caf::down_msg& dm) {
  auto& st = self->state;
  st.child = nullptr;
  fail_retries(self);
  hold_queries_of(self, dm.source);
  ++st.restarts;
  st.deps.instruments.restarts->Increment();
  if (dm.reason) st.last_error = detail::error_text(self->system(), dm.reason);
  const auto backoff = st.restart.next_delay(std::chrono::steady_clock::now());
  self->delayed_send(self, backoff, restart_atom::value, ++st.generation);
  st.deps.log->log(LogLevel::warn, "projection.crashed",
                   "projection '" + st.type->name() + "' stopped; restarting in " + std::to_string(backoff.count())
                     + " ms",
                   {{"projection", st.type->name()}, {"error", st.last_error.value_or("")},
                    {"restarts", st.restarts}, {"backoff_ms", backoff.count()}});
}

// ---- parking ---------------------------------------------------------------

// Writes the poison event to the store's dead letters; it counts as parked
// (skipped by the next projector) once the store confirms.
void park(Self self, DeadLetter letter) {
  auto& st = self->state;
  st.parking = true;
  const std::int64_t position = letter.position;
  self->request(st.deps.journal, st.settings.store_timeout, park_atom::value, std::move(letter))
    .then(
      [=](StoreAck& ack) {
        auto& s = self->state;
        s.parking = false;
        if (ack.error) {
          s.last_error = "could not park event " + std::to_string(position) + ": " + ack.error->message;
          s.deps.log->log(LogLevel::error, "store.error", *s.last_error, {{"projection", s.type->name()}});
          return;
        }
        s.ledger.mark_parked(position);
        update_parked_gauge(s);
        s.deps.log->log(LogLevel::error, "projection.event_parked",
                        "projection '" + s.type->name() + "' parked event " + std::to_string(position)
                          + " after repeated failures",
                        {{"projection", s.type->name()}, {"position", position}, {"error", s.last_error.value_or("")}});
      },
      [=](caf::error& err) {
        self->state.parking = false;
        self->state.last_error = "could not park event " + std::to_string(position) + ": " + detail::error_text(self->system(), err);
      });
}

void on_failed(Self self, DeadLetter& letter) {
  auto& st = self->state;
  // Only the live copy's failures count; a fresh copy that fails just ends its rebuild.
  if (caf::actor_cast<caf::actor_addr>(self->current_sender()) != st.child_addr) return;
  st.last_error = "event " + std::to_string(letter.position) + ": " + letter.error;
  remember_position(self, letter.position - 1);  // it had applied everything before that event
  const int n = st.ledger.record_failure(letter.position);
  if (!st.ledger.due(letter.position)) return;
  letter.attempts = n;
  letter.parked_at_us = now_us();
  park(self, std::move(letter));
}

// ---- dead-letter retry: read the event -> the live projector applies it ->
// the store unparks it. Each step hands on to the next or answers the error.

struct Retry {
  std::int64_t position = 0;
  caf::typed_response_promise<StoreAck> promise;
  void fail(Error e) { promise.deliver(StoreAck{std::move(e)}); }
};

// The live projector applies it and has the store unpark it (projector.cpp,
// retry): at its own position if it has not got there yet, else late.
void retry_apply(Self self, Retry retry, const Event& event) {
  auto& st = self->state;
  if (!st.child) return retry.fail(Error{errc::overloaded, "projection restarting; try again"});
  const std::uint64_t id = ++st.next_retry;
  st.retries.emplace(id, std::make_pair(retry.position, retry.promise));
  // Answered by the projector once applied and unparked; it may wait for the
  // projector to reach the event, up to the store timeout.
  self->request(st.child, st.settings.store_timeout, retry_atom::value, event)
    .then(
      [=](StoreAck& applied) mutable {
        auto& s = self->state;
        if (!s.retries.erase(id)) return;  // already failed: the projector died
        if (!applied.error) {
          s.ledger.unpark(retry.position);
          update_parked_gauge(s);
        }
        retry.promise.deliver(applied);
      },
      [=](caf::error& e) mutable {
        if (!self->state.retries.erase(id)) return;
        retry.fail(Error{errc::timeout, "the retry of event " + std::to_string(retry.position)
                                          + " has not completed: " + detail::error_text(self->system(), e)
                                          + " (`dead-letters list` shows whether it is still parked)"});
      });
}

void retry_read(Self self, Retry retry) {
  auto& st = self->state;
  self->request(st.deps.reader, st.settings.store_timeout, ReadAll{retry.position, 1})
    .then(
      [=](Expected<std::vector<Event>>& read) mutable {
        if (!read || read->empty() || read->front().position != retry.position)
          return retry.fail(!read ? read.error() : Error{errc::store_unavailable, "event not found"});
        retry_apply(self, retry, read->front());
      },
      [=](caf::error& e) mutable { retry.fail(Error{errc::store_unavailable, detail::error_text(self->system(), e)}); });
}

void retry_dead_letter(Self self, Retry retry) {
  auto& st = self->state;
  if (!st.ledger.is_parked(retry.position))
    return retry.fail(Error{errc::invalid_query, "event " + std::to_string(retry.position)
                                                   + " is not parked for projection '" + st.type->name() + "'"});
  if (!st.child) return retry.fail(Error{errc::overloaded, "projection '" + st.type->name() + "' is restarting; try again"});
  // A fresh copy skips the parked events it started with: it would lose the retried one.
  if (st.shadows.rebuild || !st.shadows.reconciliations.empty())
    return retry.fail(Error{errc::overloaded, "a rebuild or reconciliation of '" + st.type->name()
                                                + "' is under way; retry once it is done"});
  retry_read(self, std::move(retry));
}

// ---- status ----------------------------------------------------------------

caf::typed_response_promise<ProjectionStatus> status(Self self) {
  auto& st = self->state;
  auto rp = self->make_response_promise<ProjectionStatus>();
  ProjectionStatus info;
  info.name = st.type->name();
  info.restarts = st.restarts;
  info.parked = static_cast<std::int64_t>(st.ledger.parked().size());
  info.queries_in_flight = static_cast<std::int64_t>(st.relay.queries.size());
  info.backoff = st.restart.backoff();
  info.snapshot_every = st.type->snapshot_every();
  info.last_error = st.last_error;
  if (!st.child) {
    rp.deliver(info);
    return rp;
  }
  self->request(st.child, st.settings.store_timeout, status_atom::value)
    .then(
      [=](ProjectionStatus& child) mutable {
        remember_position(self, child.checkpoint);
        auto out = info;
        out.running = true;
        out.checkpoint = child.checkpoint;
        rp.deliver(out);
      },
      [=](caf::error&) mutable { rp.deliver(info); });
  return rp;
}

// ---- fault injection: the gate reaches the live projector and every later one

caf::typed_response_promise<caf::ok_atom> install_gate(Self self, ApplyGatePtr gate) {
  auto& st = self->state;
  auto rp = self->make_response_promise<caf::ok_atom>();
  st.gate = std::move(gate);
  // A rebuild under way gets it too: it applies once that copy is the live one.
  if (st.shadows.rebuild)
    self->request(st.shadows.rebuild, st.settings.store_timeout, gate_atom::value, st.gate)
      .then([](caf::ok_atom) {}, [](caf::error&) {});
  if (!st.child) {
    rp.deliver(caf::ok_atom::value);
    return rp;
  }
  self->request(st.child, st.settings.store_timeout, gate_atom::value, st.gate)
    .then([=](caf::ok_atom) mutable { rp.deliver(caf::ok_atom::value); },
          // It died meanwhile: the next projector is spawned with the gate.
          [=](caf::error&) mutable { rp.deliver(caf::ok_atom::value); });
  return rp;
}

SupervisorSelfActor::behavior_type supervisor(Self self, ProjectionTypePtr type, SupervisorDeps deps,
                                                SupervisorSettings settings) {
  auto& st = self->state;
  st.type = std::move(type);
  st.deps = std::move(deps);
  st.settings = settings;
  st.restart = RestartPolicy{settings.options};
  st.ledger = FailureLedger{settings.options.max_attempts};
  self->set_down_handler([=](caf::down_msg& dm) {
    if (on_copy_down(self, dm.source, dm.reason)) return;
    if (dm.source == self->state.child.address()) on_child_down(self, dm);
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    auto& s = self->state;
    fail_all_queries(self, Error{errc::shutting_down, "projection '" + s.type->name() + "' is shutting down"});
    for (auto& [id, r] : s.retries)
      r.second.deliver(StoreAck{Error{errc::shutting_down, "projection '" + s.type->name() + "' is shutting down"}});
    s.retries.clear();
    stop_copies(self, msg.reason);
    if (s.child) {
      self->demonitor(s.child.address());
      self->send_exit(s.child, msg.reason);
    }
    self->quit(msg.reason);
  });
  // Parked events stay parked across restarts of the runtime.
  load_parked_and_start(self);
  return {
    [=](restart_atom, std::uint64_t generation) {
      auto& s = self->state;
      if (generation != s.generation || s.child) return;
      if (s.parking) {  // start only once the poison event is known to be parked
        self->delayed_send(self, std::chrono::milliseconds(5), restart_atom::value, generation);
        return;
      }
      load_parked_and_start(self);
      s.deps.log->log(LogLevel::info, "projection.restarted", "projection '" + s.type->name() + "' restarted",
                      {{"projection", s.type->name()}, {"restarts", s.restarts}});
    },
    [=](failed_atom, DeadLetter& letter) { on_failed(self, letter); },
    [=](query_atom, QueryRequest& q) {
      auto rp = self->make_response_promise<QueryReply>();
      accept_query(self, std::move(q), rp);
      return rp;
    },
    [=](tick_atom) { expire_held(self); },
    [=](status_atom) { return status(self); },
    [=](retry_atom, std::int64_t position) {
      auto rp = self->make_response_promise<StoreAck>();
      retry_dead_letter(self, Retry{position, rp});
      return rp;
    },
    [=](rebuild_atom) {
      auto rp = self->make_response_promise<StoreAck>();
      start_rebuild(self, rp);
      return rp;
    },
    [=](reconcile_atom) {
      auto rp = self->make_response_promise<ReconcileOutcome>();
      start_reconcile(self, rp);
      return rp;
    },
    [=](ready_atom, ModelDump& fresh) {
      on_copy_ready(self, caf::actor_cast<caf::actor_addr>(self->current_sender()), fresh);
    },
    [=](crash_atom) {
      auto& s = self->state;
      if (s.child)
        self->send_exit(s.child, caf::make_error(caf::sec::runtime_error,
                                                 "crash injected into projection '" + s.type->name() + "'"));
    },
    [=](gate_atom, ApplyGatePtr& gate) { return install_gate(self, std::move(gate)); },
    [=](pace_atom) {
      // Shadow copies ignore the gate until they become the live copy; tell them too.
      auto& s = self->state;
      if (s.child) self->send(s.child, pace_atom::value);
      if (s.shadows.rebuild) self->send(s.shadows.rebuild, pace_atom::value);
    },
  };
}

} // namespace

ProjectionSupervisorActor spawn_projection_supervisor(caf::actor_system& sys, ProjectionTypePtr type,
                                                        SupervisorDeps deps, SupervisorSettings settings) {
  return sys.spawn(supervisor, std::move(type), std::move(deps), settings);
}

} // namespace annals::actors
