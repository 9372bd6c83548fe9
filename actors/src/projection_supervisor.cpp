#include "annals/actors/projection_supervisor.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <map>

namespace annals::actors {

namespace {

// How much longer than a query's own deadline the supervisor waits for its
// projector's answer: the projector answers expired waits itself (with the
// model or a timeout naming its position); only a projector that is busy
// beyond that gets a timeout from the supervisor. Shorter than the margin the
// runtime gives the supervisor (500 ms), so the clear error always wins.
constexpr std::chrono::milliseconds relay_margin{250};

// A query not answered yet: relayed to a projector (`at`), or held while no
// projector runs (or after the one it was relayed to died).
struct PendingQuery {
  QueryRequest request;
  caf::response_promise promise;
  caf::actor_addr at;         // the projector it was relayed to (none: held)
  std::uint64_t attempt = 0;  // the relay whose errors still count
};

struct SupervisorState {
  ProjectionTypePtr type;
  SupervisorDeps deps;
  SupervisorSettings settings;

  caf::actor child;
  caf::actor_addr child_addr;  // the live copy, also just after it died (its failure report may come late)
  std::uint64_t generation = 0;
  std::chrono::milliseconds backoff{0};
  std::chrono::steady_clock::time_point started_at;
  std::int64_t restarts = 0;
  std::optional<std::string> last_error;

  std::map<std::int64_t, int> attempts;  // failures per position
  std::set<std::int64_t> parked;
  bool parking = false;                  // a park write is under way
  std::map<std::uint64_t, PendingQuery> queries;  // not answered yet, by number
  std::uint64_t next_query = 0;
  std::size_t held = 0;                  // those of them without a projector (bounded)
  std::int64_t reached = 0;              // the highest position the live copy is known to have applied

  caf::actor rebuild;                    // a fresh copy that will replace the live one
  caf::response_promise rebuild_promise;
  struct Reconciliation {
    caf::response_promise promise;
    ModelDump live;
  };
  std::map<caf::actor_addr, Reconciliation> reconciliations;  // by the fresh copy's address

  static inline const char* name = "annals.projection_supervisor";
};

using Self = caf::stateful_actor<SupervisorState>;
using QueryIt = std::map<std::uint64_t, PendingQuery>::iterator;

void remember_position(Self* self, std::int64_t position) {
  self->state.reached = std::max(self->state.reached, position);
}

// Why no projector answered, when none runs.
std::string not_running(const SupervisorState& st) {
  if (st.child) return "";
  if (st.restarts == 0) return "; it is starting";
  return "; it is restarting after a failure (" + st.last_error.value_or("unknown error") + ")";
}

// The answer to a query whose deadline passed without an answer from a
// projector: the same shape as a projector's own timeout, with the position
// the supervisor knows its projector reached.
QueryReply timed_out(const SupervisorState& st, const QueryRequest& q) {
  QueryReply r;
  r.position = st.reached;
  const std::string reached = std::to_string(st.reached);
  if (q.min_position > 0)
    r.error = Error{errc::timeout, "projection '" + st.type->name() + "' reached position " + reached + ", not "
                                     + std::to_string(q.min_position) + ", within the time limit" + not_running(st)};
  else
    r.error = Error{errc::timeout, "projection '" + st.type->name() + "' could not answer within the time limit (it had "
                                     "reached position " + reached + ")" + not_running(st)};
  return r;
}

void finish(Self* self, QueryIt it, QueryReply reply) {
  auto& st = self->state;
  if (!it->second.at) --st.held;
  it->second.promise.deliver(std::move(reply));
  st.queries.erase(it);
}

// A held query is answered by the supervisor once its deadline passes.
void arm_deadline(Self* self, Deadline deadline) {
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  self->delayed_send(self, std::max(wait, std::chrono::milliseconds(0)) + std::chrono::milliseconds(1),
                     tick_atom::value);
}

// The query waits for the next projector; errors of its earlier relay no
// longer count.
void hold(Self* self, QueryIt it) {
  auto& p = it->second;
  ++p.attempt;
  if (!p.at) return;
  p.at = nullptr;
  ++self->state.held;
  arm_deadline(self, p.request.deadline);
}

void on_relay_error(Self* self, std::uint64_t id, std::uint64_t attempt, const caf::error& err);

// Asks the live projector and relays its answer. If it dies before
// answering, the query is held again and goes to the next projector.
void relay(Self* self, QueryIt it) {
  auto& st = self->state;
  auto& p = it->second;
  const auto now = std::chrono::steady_clock::now();
  if (p.request.deadline <= now) return finish(self, it, timed_out(st, p.request));
  if (!p.at) --st.held;
  p.at = st.child.address();
  const auto attempt = ++p.attempt;
  const auto id = it->first;
  const auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(p.request.deadline - now);
  self->request(st.child, remaining + relay_margin, query_atom::value, p.request)
    .then(
      [=](QueryReply& reply) {
        // Any projector's answer will do, also one sent just before a rebuild
        // replaced it (the query was asked again; the first answer wins).
        auto& s = self->state;
        auto q = s.queries.find(id);
        if (q == s.queries.end()) return;
        remember_position(self, reply.position);
        finish(self, q, std::move(reply));
      },
      [=](caf::error& err) { on_relay_error(self, id, attempt, err); });
}

void on_relay_error(Self* self, std::uint64_t id, std::uint64_t attempt, const caf::error&) {
  auto& st = self->state;
  auto it = st.queries.find(id);
  if (it == st.queries.end() || it->second.attempt != attempt) return;  // answered, or asked again since
  if (it->second.request.deadline <= std::chrono::steady_clock::now())
    return finish(self, it, timed_out(st, it->second.request));
  // Its projector went away without answering (its down message may still
  // come): held for the next one, or asked again if that one already runs.
  const auto was_at = it->second.at;
  hold(self, it);
  if (st.child && st.child.address() != was_at) relay(self, it);
}

// Asks the live projector every held query.
void relay_held(Self* self) {
  auto& st = self->state;
  for (auto it = st.queries.begin(); it != st.queries.end();) {
    auto next = std::next(it);
    if (!it->second.at) relay(self, it);
    it = next;
  }
}

void start_child(Self* self) {
  auto& st = self->state;
  ProjectorMode mode;
  mode.predecessor_position = st.reached;  // plain queries wait until the new one is back there
  st.child = spawn_projector(self, st.type, st.parked,
                             ProjectorDeps{st.deps.reader, st.deps.journal, st.deps.bus, caf::actor{self},
                                           st.deps.upcasters, st.deps.instruments, st.deps.faults},
                             st.settings.projector, std::move(mode));
  self->monitor(st.child);
  st.child_addr = st.child.address();
  st.started_at = std::chrono::steady_clock::now();
  relay_held(self);
}

caf::actor spawn_copy(Self* self, ProjectorMode mode) {
  auto& st = self->state;
  mode.fresh = true;
  mode.notify = caf::actor{self};
  auto copy = spawn_projector(self, st.type, st.parked,
                              ProjectorDeps{st.deps.reader, st.deps.journal, st.deps.bus, caf::actor{self},
                                            st.deps.upcasters, st.deps.instruments, st.deps.faults},
                              st.settings.projector, std::move(mode));
  self->monitor(copy);
  return copy;
}

// The rebuilt copy is live: it replaces the old one, whose queries it now
// answers (they are asked again; an answer the old one sent first still counts).
void swap_in_rebuild(Self* self, std::int64_t position) {
  auto& st = self->state;
  caf::actor_addr old;
  if (st.child) {
    old = st.child.address();
    self->demonitor(st.child);
    self->send_exit(st.child, caf::exit_reason::user_shutdown);
  }
  st.child = st.rebuild;
  st.child_addr = st.child.address();
  st.rebuild = nullptr;
  st.started_at = std::chrono::steady_clock::now();
  remember_position(self, position);
  self->send(st.child, snapshot_atom::value);  // the old copy's snapshot must not come back
  for (auto it = st.queries.begin(); it != st.queries.end();) {
    auto next = std::next(it);
    if (!it->second.at || (old && it->second.at == old)) relay(self, it);
    it = next;
  }
  st.rebuild_promise.deliver(StoreAck{});
}

void schedule_restart(Self* self) {
  auto& st = self->state;
  if (std::chrono::steady_clock::now() - st.started_at > st.settings.reset_after) st.backoff = {};
  if (st.backoff.count() == 0) st.backoff = st.settings.initial_backoff;
  else
    st.backoff = std::min(st.settings.max_backoff,
                          std::chrono::milliseconds(static_cast<std::int64_t>(
                            static_cast<double>(st.backoff.count()) * st.settings.backoff_factor)));
  self->delayed_send(self, st.backoff, restart_atom::value, ++st.generation);
}

void park(Self* self, DeadLetter letter) {
  auto& st = self->state;
  st.parking = true;
  const std::int64_t position = letter.position;
  self->request(st.deps.journal, st.settings.projector.store_timeout, park_atom::value, std::move(letter))
    .then(
      [=](StoreAck& ack) {
        auto& s = self->state;
        s.parking = false;
        if (ack.error) {
          s.last_error = "could not park event " + std::to_string(position) + ": " + ack.error->message;
          s.deps.log->log(LogLevel::error, "store.error", *s.last_error, {{"projection", s.type->name()}});
          return;
        }
        s.parked.insert(position);
        s.attempts.erase(position);
        s.deps.instruments.parked->Set(static_cast<double>(s.parked.size()));
        s.deps.log->log(LogLevel::error, "projection.event_parked",
                        "projection '" + s.type->name() + "' parked event " + std::to_string(position)
                          + " after repeated failures",
                        {{"projection", s.type->name()}, {"position", position}, {"error", s.last_error.value_or("")}});
      },
      [=](caf::error& err) {
        self->state.parking = false;
        self->state.last_error = "could not park event " + std::to_string(position) + ": " + self->system().render(err);
      });
}

caf::behavior supervisor(Self* self, ProjectionTypePtr type, SupervisorDeps deps, SupervisorSettings settings) {
  auto& st = self->state;
  st.type = std::move(type);
  st.deps = std::move(deps);
  st.settings = settings;
  self->set_down_handler([=](caf::down_msg& dm) {
    auto& s = self->state;
    if (s.rebuild && dm.source == s.rebuild.address()) {
      s.rebuild = nullptr;
      s.rebuild_promise.deliver(StoreAck{Error{errc::internal_error, "the rebuild of '" + s.type->name()
                                                                        + "' failed: " + self->system().render(dm.reason)}});
      return;
    }
    if (auto r = s.reconciliations.find(dm.source); r != s.reconciliations.end()) {
      ReconcileReport report;
      report.error = Error{errc::internal_error, "the fresh copy of '" + s.type->name()
                                                   + "' failed: " + self->system().render(dm.reason)};
      r->second.promise.deliver(std::move(report));
      s.reconciliations.erase(r);
      return;
    }
    if (dm.source != s.child.address()) return;
    s.child = nullptr;
    // Queries it had not answered wait for the next projector.
    for (auto it = s.queries.begin(); it != s.queries.end(); ++it)
      if (it->second.at == dm.source) hold(self, it);
    ++s.restarts;
    s.deps.instruments.restarts->Increment();
    if (dm.reason) s.last_error = self->system().render(dm.reason);
    schedule_restart(self);
    s.deps.log->log(LogLevel::warn, "projection.crashed",
                    "projection '" + s.type->name() + "' stopped; restarting in " + std::to_string(s.backoff.count())
                      + " ms",
                    {{"projection", s.type->name()}, {"error", s.last_error.value_or("")},
                     {"restarts", s.restarts}, {"backoff_ms", s.backoff.count()}});
  });
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& q : self->state.queries) {
      QueryReply r;
      r.error = Error{errc::shutting_down, "projection '" + self->state.type->name() + "' is shutting down"};
      q.second.promise.deliver(std::move(r));
    }
    self->state.queries.clear();
    self->state.held = 0;
    if (self->state.rebuild) self->send_exit(self->state.rebuild, msg.reason);
    for (auto& r : self->state.reconciliations)
      if (auto copy = caf::actor_cast<caf::actor>(r.first)) self->send_exit(copy, msg.reason);
    if (self->state.child) {
      self->demonitor(self->state.child);
      self->send_exit(self->state.child, msg.reason);
    }
    self->quit(msg.reason);
  });
  // Parked events stay parked across restarts of the runtime.
  self->request(st.deps.reader, st.settings.projector.store_timeout, ReadDeadLetters{st.type->name()})
    .then(
      [=](Expected<std::vector<DeadLetter>>& letters) {
        if (letters)
          for (const auto& d : *letters) self->state.parked.insert(d.position);
        self->state.deps.instruments.parked->Set(static_cast<double>(self->state.parked.size()));
        if (!letters) self->state.last_error = letters.error().message;
        start_child(self);
      },
      [=](caf::error&) { start_child(self); });
  return {
    [=](restart_atom, std::uint64_t generation) {
      auto& s = self->state;
      if (generation != s.generation || s.child) return;
      if (s.parking) {  // start only once the poison event is known to be parked
        self->delayed_send(self, std::chrono::milliseconds(5), restart_atom::value, generation);
        return;
      }
      start_child(self);
      s.deps.log->log(LogLevel::info, "projection.restarted", "projection '" + s.type->name() + "' restarted",
                      {{"projection", s.type->name()}, {"restarts", s.restarts}});
    },
    [=](failed_atom, DeadLetter& letter) {
      auto& s = self->state;
      // Only the live copy's failures count; a fresh copy that fails just ends its rebuild.
      if (caf::actor_cast<caf::actor_addr>(self->current_sender()) != s.child_addr) return;
      s.last_error = "event " + std::to_string(letter.position) + ": " + letter.error;
      remember_position(self, letter.position - 1);  // it had applied everything before that event
      int n = ++s.attempts[letter.position];
      if (n >= s.settings.max_attempts) {
        letter.attempts = n;
        letter.parked_at_us = now_us();
        park(self, std::move(letter));
      }
    },
    [=](query_atom, QueryRequest& q) {
      auto& s = self->state;
      auto rp = self->make_response_promise();
      if (!s.child && s.held >= s.settings.max_waiting_queries) {
        QueryReply r;
        r.error = Error{errc::overloaded, "projection '" + s.type->name() + "' is restarting and has "
                                            + std::to_string(s.held) + " queries waiting"};
        rp.deliver(std::move(r));
        return;
      }
      const auto deadline = q.deadline;
      auto it = s.queries.emplace(++s.next_query, PendingQuery{std::move(q), rp, {}, 0}).first;
      ++s.held;
      if (s.child) relay(self, it);
      else arm_deadline(self, deadline);
    },
    [=](tick_atom) {
      // Held queries whose deadline passed before any projector answered.
      auto& s = self->state;
      const auto now = std::chrono::steady_clock::now();
      for (auto it = s.queries.begin(); it != s.queries.end();) {
        auto next = std::next(it);
        if (!it->second.at && it->second.request.deadline <= now) finish(self, it, timed_out(s, it->second.request));
        it = next;
      }
    },
    [=](status_atom) {
      auto& s = self->state;
      auto rp = self->make_response_promise();
      ProjectionInfo info;
      info.name = s.type->name();
      info.restarts = s.restarts;
      info.parked = static_cast<std::int64_t>(s.parked.size());
      info.backoff = s.backoff;
      info.last_error = s.last_error;
      if (!s.child) {
        rp.deliver(info);
        return;
      }
      self->request(s.child, s.settings.projector.store_timeout, status_atom::value)
        .then([=](ProjectionInfo& child) mutable {
                remember_position(self, child.checkpoint);
                auto out = info;
                out.running = true;
                out.checkpoint = child.checkpoint;
                rp.deliver(out);
              },
              [=](caf::error&) mutable { rp.deliver(info); });
    },
    [=](retry_atom, std::int64_t position) {
      auto& s = self->state;
      auto rp = self->make_response_promise();
      auto fail = [rp](Error e) mutable { rp.deliver(StoreAck{std::move(e)}); };
      if (!s.parked.count(position))
        return fail(Error{errc::invalid_query, "event " + std::to_string(position) + " is not parked for projection '"
                                                 + s.type->name() + "'"});
      if (!s.child) return fail(Error{errc::overloaded, "projection '" + s.type->name() + "' is restarting; try again"});
      const auto timeout = s.settings.projector.store_timeout;
      self->request(s.deps.reader, timeout, ReadAll{position, 1})
        .then(
          [=](Expected<std::vector<Event>>& read) mutable {
            if (!read || read->empty() || read->front().position != position)
              return fail(!read ? read.error() : Error{errc::store_unavailable, "event not found"});
            auto& s2 = self->state;
            if (!s2.child) return fail(Error{errc::overloaded, "projection restarting; try again"});
            self->request(s2.child, timeout, retry_atom::value, read->front())
              .then(
                [=](StoreAck& applied) mutable {
                  if (applied.error) return fail(*applied.error);
                  self->state.parked.erase(position);
                  self->state.deps.instruments.parked->Set(static_cast<double>(self->state.parked.size()));
                  self->request(self->state.deps.journal, timeout, unpark_atom::value, self->state.type->name(), position)
                    .then([=](StoreAck& ack) mutable { rp.deliver(ack); },
                          [=](caf::error& e) mutable { fail(Error{errc::store_unavailable, self->system().render(e)}); });
                },
                [=](caf::error& e) mutable { fail(Error{errc::internal_error, self->system().render(e)}); });
          },
          [=](caf::error& e) mutable { fail(Error{errc::store_unavailable, self->system().render(e)}); });
    },
    [=](crash_atom) {
      if (self->state.child) self->send(self->state.child, crash_atom::value);
    },
    [=](faults_atom) {
      // Shadow copies ignore faults until they become the live copy; tell them too.
      if (self->state.child) self->send(self->state.child, faults_atom::value);
      if (self->state.rebuild) self->send(self->state.rebuild, faults_atom::value);
    },
    [=](rebuild_atom) {
      auto& s = self->state;
      auto rp = self->make_response_promise();
      if (s.rebuild) {
        rp.deliver(StoreAck{Error{errc::overloaded, "a rebuild of '" + s.type->name() + "' is already running"}});
        return;
      }
      s.rebuild_promise = rp;
      s.rebuild = spawn_copy(self, ProjectorMode{});
    },
    [=](reconcile_atom) {
      auto& s = self->state;
      auto rp = self->make_response_promise();
      auto fail = [rp](Error e) mutable {
        ReconcileReport r;
        r.error = std::move(e);
        rp.deliver(std::move(r));
      };
      if (!s.child) return fail(Error{errc::overloaded, "projection '" + s.type->name() + "' is restarting; try again"});
      self->request(s.child, s.settings.projector.store_timeout, dump_atom::value)
        .then(
          [=](ModelDump& live) mutable {
            ProjectorMode mode;
            mode.stop_at = live.position;
            auto copy = spawn_copy(self, mode);
            self->state.reconciliations.emplace(copy.address(), SupervisorState::Reconciliation{rp, std::move(live)});
          },
          [=](caf::error& e) mutable { fail(Error{errc::internal_error, self->system().render(e)}); });
    },
    [=](ready_atom, ModelDump& fresh) {
      auto& s = self->state;
      auto from = caf::actor_cast<caf::actor_addr>(self->current_sender());
      if (s.rebuild && from == s.rebuild.address()) return swap_in_rebuild(self, fresh.position);
      auto r = s.reconciliations.find(from);
      if (r == s.reconciliations.end()) return;
      ReconcileReport report;
      report.position = r->second.live.position;
      report.differences = json_differences(r->second.live.model, fresh.model);
      r->second.promise.deliver(std::move(report));
      s.reconciliations.erase(r);
    },
  };
}

} // namespace

caf::actor spawn_projection_supervisor(caf::actor_system& sys, ProjectionTypePtr type, SupervisorDeps deps,
                                       SupervisorSettings settings) {
  return sys.spawn(supervisor, std::move(type), std::move(deps), settings);
}

} // namespace annals::actors
