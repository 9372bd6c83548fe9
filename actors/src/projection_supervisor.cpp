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

struct WaitingQuery {
  QueryRequest request;
  caf::response_promise promise;
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
  std::vector<WaitingQuery> waiting;     // queries while no projector runs

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

void start_child(Self* self) {
  auto& st = self->state;
  st.child = spawn_projector(self, st.type, st.parked,
                             ProjectorDeps{st.deps.reader, st.deps.journal, st.deps.bus, caf::actor{self},
                                           st.deps.upcasters, st.deps.instruments, st.deps.faults},
                             st.settings.projector);
  self->monitor(st.child);
  st.child_addr = st.child.address();
  st.started_at = std::chrono::steady_clock::now();
  for (auto& w : st.waiting) w.promise.delegate(st.child, query_atom::value, std::move(w.request));
  st.waiting.clear();
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

// The rebuilt copy is live: it replaces the old one, whose queries it now answers.
void swap_in_rebuild(Self* self) {
  auto& st = self->state;
  if (st.child) {
    self->demonitor(st.child);
    self->send_exit(st.child, caf::exit_reason::user_shutdown);
  }
  st.child = st.rebuild;
  st.child_addr = st.child.address();
  st.rebuild = nullptr;
  st.started_at = std::chrono::steady_clock::now();
  self->send(st.child, snapshot_atom::value);  // the old copy's snapshot must not come back
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
  ReadRequest req;
  req.kind = ReadRequest::Kind::dead_letters;
  req.projection = st.type->name();
  self->request(st.deps.reader, st.settings.projector.store_timeout, read_atom::value, req)
    .then(
      [=](ReadReply& reply) {
        for (const auto& d : reply.dead_letters) self->state.parked.insert(d.position);
        self->state.deps.instruments.parked->Set(static_cast<double>(self->state.parked.size()));
        if (reply.error) self->state.last_error = reply.error->message;
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
      if (s.child) {
        rp.delegate(s.child, query_atom::value, std::move(q));
      } else if (s.waiting.size() < s.settings.max_waiting_queries) {
        s.waiting.push_back(WaitingQuery{std::move(q), rp});
      } else {
        QueryReply r;
        r.error = Error{errc::overloaded, "projection '" + s.type->name() + "' is restarting and has "
                                            + std::to_string(s.waiting.size()) + " queries waiting"};
        rp.deliver(std::move(r));
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
      ReadRequest rr;
      rr.kind = ReadRequest::Kind::all;
      rr.from_version = position;
      rr.max_count = 1;
      const auto timeout = s.settings.projector.store_timeout;
      self->request(s.deps.reader, timeout, read_atom::value, rr)
        .then(
          [=](ReadReply& reply) mutable {
            if (reply.error || reply.events.empty() || reply.events.front().position != position)
              return fail(reply.error ? *reply.error : Error{errc::store_unavailable, "event not found"});
            auto& s2 = self->state;
            if (!s2.child) return fail(Error{errc::overloaded, "projection restarting; try again"});
            self->request(s2.child, timeout, retry_atom::value, reply.events.front())
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
      if (s.rebuild && from == s.rebuild.address()) return swap_in_rebuild(self);
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
