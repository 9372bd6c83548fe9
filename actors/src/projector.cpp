#include "annals/actors/projector.hpp"

#include "detail/apply_queue.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/sec.hpp>
#include <caf/spawn_options.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>
#include <any>
#include <utility>

namespace annals::actors {

namespace {

// The visible lifecycle: starting (snapshot) -> catching_up <-> live.
enum class Phase { starting, catching_up, live };

// What waits for the queue of accepted events to be empty.
enum class Next { nothing, read, go_live };

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;

// The projector's own timers, on top of its public interface.
using ProjectorSelfActor = ProjectorActor::extend<
  caf::reacts_to<tick_atom>,                   // waiting queries may have expired
  caf::reacts_to<drain_atom, std::uint64_t>>;  // the pace's timer: apply the next queued event

using detail::Queued;

struct PendingQuery {
  QueryRequest request;
  caf::typed_response_promise<QueryReply> promise;
};

struct ProjectorState {
  ProjectionTypePtr type;
  ProjectorDeps deps;
  ProjectorSettings settings;
  ProjectorMode mode;
  std::set<std::int64_t> parked;
  bool notified = false;  // a shadow copy has reported to its owner

  Phase phase = Phase::starting;
  std::any model;
  std::int64_t checkpoint = 0;   // the last position applied (or skipped)
  std::int64_t seen_head = 0;    // the highest position the bus announced
  // Events accepted (past the duplicate and gap checks) but not applied yet,
  // in position order.
  detail::ApplyQueue queue;
  Next next = Next::nothing;     // to do once the queue is empty
  int since_snapshot = 0;
  bool dead = false;
  std::vector<PendingQuery> waiting;  // queries for a position not yet applied
  ApplyGatePtr gate;                  // null unless faults were injected

  static inline const char* name = "annals.projector";
};

using Self = ProjectorSelfActor::stateful_pointer<ProjectorState>;

void catch_up(Self self);

// The live copy: not a shadow copy still being built. Only it counts in the
// metrics and passes its applies through the gate.
bool live_copy(const ProjectorState& st) { return !st.mode.shadow || st.notified; }

// The last position accepted: queued, or else applied.
std::int64_t accepted(const ProjectorState& st) { return st.queue.accepted(st.checkpoint); }

// How long the next event waits (0: none; always 0 without a gate).
std::chrono::milliseconds pace_of(const ProjectorState& st) {
  if (!st.gate || !live_copy(st)) return std::chrono::milliseconds(0);
  return st.gate->pace();
}

// The gate's verdict on this event, thrown like a failing handler.
void pass_gate(const ProjectorState& st, const Event& ev) {
  if (!st.gate || !live_copy(st)) return;
  if (auto failure = st.gate->failure(ev)) throw std::runtime_error(*failure);
}

QueryReply answer(Self self, const QueryRequest& q) {
  auto& st = self->state;
  QueryReply reply;
  reply.position = st.checkpoint;
  try {
    auto v = st.type->query(st.model, q.name, q.args);
    if (v) reply.value = std::move(*v);
    else reply.error = v.error();
  } catch (const std::exception& e) {
    reply.error = Error{errc::internal_error, "query '" + q.name + "' threw: " + e.what()};
  }
  return reply;
}

// The position a query waits for: its min_position or, for a plain query
// (min_position 0) of a restarted projector that is still catching up, the
// position its predecessor had reached, so that a restart does not answer from
// an older model than the one before it did.
std::int64_t wait_target(const ProjectorState& st, const QueryRequest& q) {
  if (q.min_position > 0 || st.phase == Phase::live) return q.min_position;
  return st.mode.predecessor_position;
}

bool ready(const ProjectorState& st, const QueryRequest& q) { return st.checkpoint >= wait_target(st, q); }

// The answer to a waiting query whose deadline has passed: a plain query gets
// the model as it is (catch-up never makes it fail), a read-your-writes query
// a timeout saying how far the projection got.
QueryReply expired(Self self, const QueryRequest& q) {
  auto& st = self->state;
  if (st.checkpoint >= q.min_position) return answer(self, q);
  QueryReply r;
  r.position = st.checkpoint;
  r.error = Error{errc::timeout, "projection '" + st.type->name() + "' reached position " + std::to_string(st.checkpoint)
                                   + ", not " + std::to_string(q.min_position) + ", within the time limit"};
  return r;
}

// Answers the waiting queries whose position is applied, and those whose
// deadline has passed. Called after every applied event while queries wait:
// a query is answered with the state at its position even if the next event
// kills the projector.
void answer_ready(Self self) {
  auto& st = self->state;
  if (st.waiting.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  auto done = std::stable_partition(st.waiting.begin(), st.waiting.end(), [&](const PendingQuery& p) {
    return !ready(st, p.request) && p.request.deadline > now;
  });
  for (auto it = done; it != st.waiting.end(); ++it)
    it->promise.deliver(ready(st, it->request) ? answer(self, it->request) : expired(self, it->request));
  st.waiting.erase(done, st.waiting.end());
}

ModelDump dump(Self self) {
  return ModelDump{self->state.type->model_to_json(self->state.model), self->state.checkpoint};
}

void save_snapshot(Self self) {
  auto& st = self->state;
  st.since_snapshot = 0;
  try {
    ProjectionSnapshot snap{st.type->name(), st.checkpoint, st.type->snapshot_version(),
                            st.type->model_to_json(st.model), now_us()};
    if (!is_finite_json(snap.model)) return;  // could not be read back
    caf::anon_send(st.deps.journal, snapshot_atom::value, std::move(snap));
  } catch (const std::exception&) {
  }
}

void maybe_snapshot(Self self) {
  auto& st = self->state;
  const int every = st.type->snapshot_every();
  // A shadow copy never overwrites the live copy's snapshot.
  if (every <= 0 || !live_copy(st) || ++st.since_snapshot < every) return;
  save_snapshot(self);
}

// A shadow copy is done: hand its model to whoever asked.
void report_ready(Self self) {
  auto& st = self->state;
  if (!st.mode.shadow || st.notified) return;
  st.notified = true;
  self->send(st.deps.owner, ready_atom::value, dump(self));
}

// Applies one event in order. On failure: tell the supervisor which event,
// then die (the model may be half-updated and cannot be trusted).
// Brings a stored event to the current schema (a copy: live batches are shared).
const Event& current_shape(Self self, const Event& ev, Event& copy) {
  const auto& up = self->state.deps.upcasters;
  if (up->current_version(ev.stream.aggregate, ev.type) == ev.schema_version) return ev;
  copy = ev;
  if (auto err = up->upcast(copy)) throw std::runtime_error(err->message);
  return copy;
}

bool apply(Self self, const Event& ev) {
  auto& st = self->state;
  if (!st.parked.count(ev.position)) {
    try {
      pass_gate(st, ev);
      Event copy;
      st.type->apply(st.model, current_shape(self, ev, copy));
    } catch (const std::exception& e) {
      if (live_copy(st)) st.deps.instruments.errors->Increment();
      // The supervisor counts this only when it comes from its live copy.
      DeadLetter letter{st.type->name(), ev.position, ev.stream, ev.type, e.what(), 0, 0};
      self->send(st.deps.owner, failed_atom::value, std::move(letter));
      st.dead = true;
      self->quit(caf::make_error(caf::sec::runtime_error,
                                 "projection '" + st.type->name() + "' failed on event "
                                   + std::to_string(ev.position) + ": " + e.what()));
      return false;
    }
  }
  st.checkpoint = ev.position;
  // A copy still being built for a rebuild or reconciliation does not count.
  if (live_copy(st)) {
    const auto& m = st.deps.instruments;
    m.applied->Increment();
    m.lag_seconds->Observe(std::max<double>(0.0, static_cast<double>(now_us() - ev.metadata.timestamp_us) / 1e6));
    m.checkpoint->Set(static_cast<double>(st.checkpoint));
    m.backlog->Set(static_cast<double>(std::max<std::int64_t>(0, st.seen_head - st.checkpoint)));
  }
  maybe_snapshot(self);
  return true;
}

void read_more(Self self);
void go_live(Self self);

// Does what waited for the queue to be empty.
void run_next(Self self) {
  switch (std::exchange(self->state.next, Next::nothing)) {
    case Next::read: return read_more(self);
    case Next::go_live: return go_live(self);
    case Next::nothing: return;
  }
}

// Applies the queued events in order: all of them now or, while the gate
// sets a pace, the next one when its timer fires (queries are answered
// meanwhile, from the model as it is). Once the queue is empty, runs what
// waited for it.
void drain(Self self) {
  auto& st = self->state;
  if (st.dead) return;
  while (!st.queue.empty()) {
    if (auto pace = pace_of(st); pace.count() > 0) {
      if (auto timer = st.queue.arm(pace)) self->delayed_send(self, pace, drain_atom::value, timer);
      break;
    }
    const Queued q = st.queue.pop();
    if (!apply(self, q.event())) return;
    answer_ready(self);  // before the next event, which may fail
  }
  answer_ready(self);
  if (st.queue.empty()) run_next(self);
}

void go_live(Self self) {
  auto& st = self->state;
  if (st.seen_head > st.checkpoint) return catch_up(self);
  st.phase = Phase::live;
  answer_ready(self);  // plain queries waited for the predecessor's position only while catching up
  report_ready(self);
  if (live_copy(st)) {  // also when nothing was applied (resumed from a snapshot at the head)
    st.deps.instruments.checkpoint->Set(static_cast<double>(st.checkpoint));
    st.deps.instruments.backlog->Set(static_cast<double>(std::max<std::int64_t>(0, st.seen_head - st.checkpoint)));
  }
}

// Reads from the store what the bus did not bring, once the events already
// accepted are applied.
void catch_up(Self self) {
  auto& st = self->state;
  st.phase = Phase::catching_up;
  st.next = Next::read;
  drain(self);
}

// One catch-up step: a batch from the store after the checkpoint (the queue
// is empty). A full batch reads on once it is applied; a short one goes live.
void read_more(Self self) {
  auto& st = self->state;
  ReadAll req{st.checkpoint + 1, st.settings.catch_up_batch};
  if (st.mode.stop_at) {
    if (st.checkpoint >= *st.mode.stop_at) {
      report_ready(self);
      self->quit();
      return;
    }
    req.max_count = std::min<std::size_t>(req.max_count, static_cast<std::size_t>(*st.mode.stop_at - st.checkpoint));
  }
  self->request(st.deps.reader, st.settings.store_timeout, req)
    .then(
      [=](Expected<std::vector<Event>>& read) {
        auto& s = self->state;
        if (!read) {
          self->quit(caf::make_error(caf::sec::runtime_error, "catch-up failed: " + read.error().message));
          return;
        }
        auto events = std::make_shared<const std::vector<Event>>(std::move(*read));
        for (std::size_t i = 0; i < events->size(); ++i)
          if ((*events)[i].position > accepted(s)) s.queue.push(Queued{events, i});
        if (s.mode.stop_at) {
          if (events->empty()) s.checkpoint = *s.mode.stop_at;  // nothing more to read
          s.next = Next::read;
        } else if (events->size() >= s.settings.catch_up_batch) {
          s.next = Next::read;
        } else {
          s.next = Next::go_live;
        }
        drain(self);
      },
      [=](caf::error& err) { self->quit(err); });
}

void on_live_batch(Self self, const CommittedEvents& batch) {
  auto& st = self->state;
  const auto& events = *batch;
  if (events.empty()) return;
  st.seen_head = std::max(st.seen_head, events.back().position);
  if (st.phase != Phase::live) return;  // the running catch-up will get there
  // While events wait (a pace), at most catch_up_batch of them are held;
  // beyond that the store has them.
  const bool bounded = pace_of(st).count() > 0;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& ev = events[i];
    const auto last = accepted(st);
    if (ev.position <= last) continue;  // already applied or queued
    if (ev.position != last + 1) return catch_up(self);  // a gap: read it from the store
    if (bounded && st.queue.size() >= st.settings.catch_up_batch) return catch_up(self);
    st.queue.push(Queued{batch, i});
  }
  drain(self);
}

void start(Self self) {
  auto& st = self->state;
  if (!st.mode.stop_at)
    // First, so nothing committed from now on is missed.
    self->send(st.deps.bus, subscribe_atom::value, caf::actor_cast<EventSubscriberActor>(self));
  if (st.type->snapshot_every() <= 0 || st.mode.fresh) return catch_up(self);
  self->request(st.deps.reader, st.settings.store_timeout, LoadProjectionSnapshot{st.type->name()})
    .then(
      [=](Expected<std::optional<ProjectionSnapshot>>& loaded) {
        auto& s = self->state;
        const ProjectionSnapshot* snapshot = loaded && *loaded ? &**loaded : nullptr;
        if (snapshot && snapshot->snapshot_version == s.type->snapshot_version()) {
          auto model = s.type->model_from_json(snapshot->model);
          if (model) {
            s.model = std::move(*model);
            s.checkpoint = snapshot->position;
          }
        }
        catch_up(self);
      },
      [=](caf::error&) { catch_up(self); });
}

ProjectorSelfActor::behavior_type projector(Self self, ProjectionTypePtr type, std::set<std::int64_t> parked,
                                              ProjectorDeps deps, ProjectorSettings settings, ProjectorMode mode) {
  auto& st = self->state;
  st.mode = std::move(mode);
  st.type = std::move(type);
  st.parked = std::move(parked);
  st.deps = std::move(deps);
  st.settings = settings;
  st.gate = st.deps.gate;
  st.model = st.type->empty_model();
  start(self);
  return {
    [=](committed_atom, const CommittedEvents& batch) {
      on_live_batch(self, batch);
      if (!self->state.dead) self->send(self->state.deps.bus, ack_atom::value);
    },
    [=](head_atom, std::int64_t head) {
      auto& s = self->state;
      s.seen_head = std::max(s.seen_head, head);
      if (s.phase == Phase::live && head > accepted(s)) catch_up(self);
      self->send(s.deps.bus, ack_atom::value);
    },
    [=](query_atom, QueryRequest& q) {
      auto& s = self->state;
      auto rp = self->make_response_promise<QueryReply>();
      if (ready(s, q)) {
        rp.deliver(answer(self, q));
        return rp;
      }
      auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(q.deadline - std::chrono::steady_clock::now());
      self->delayed_send(self, std::max(wait, std::chrono::milliseconds(0)) + std::chrono::milliseconds(1),
                         tick_atom::value);
      s.waiting.push_back(PendingQuery{std::move(q), rp});
      return rp;
    },
    [=](tick_atom) {
      // Waiting queries whose time is up: plain ones get the model as it is,
      // read-your-writes ones fail with a timeout.
      answer_ready(self);
    },
    [=](retry_atom, const Event& ev) {
      auto& s = self->state;
      StoreAck ack;
      try {
        pass_gate(s, ev);  // a retry while an injected failure has attempts left fails too
        Event copy;
        s.type->apply(s.model, current_shape(self, ev, copy));
      } catch (const std::exception& e) {
        ack.error = Error{errc::internal_error, std::string("event ") + std::to_string(ev.position)
                                                  + " still fails: " + e.what()};
        return ack;
      }
      // A stored snapshot taken after the event was parked lacks it: replace
      // it now, or a restart would resume without the retried event. (Sent
      // before the reply, so the journal has it before the retry is unparked.)
      if (live_copy(s) && s.type->snapshot_every() > 0) save_snapshot(self);
      return ack;
    },
    [=](status_atom) {
      ProjectionStatus info;
      info.name = self->state.type->name();
      info.running = true;
      info.checkpoint = self->state.checkpoint;
      return info;
    },
    [=](dump_atom) { return dump(self); },
    [=](snapshot_atom) {
      if (self->state.type->snapshot_every() > 0) save_snapshot(self);
    },
    [=](drain_atom, std::uint64_t timer) {
      // A pace's wait is over: apply the next queued event.
      auto& s = self->state;
      if (!s.queue.fired(timer)) return;  // replaced by a newer timer
      if (!s.queue.empty()) {
        const Queued q = s.queue.pop();
        if (!apply(self, q.event())) return;
      }
      drain(self);
    },
    [=](gate_atom, ApplyGatePtr& gate) {
      self->state.gate = std::move(gate);
      drain(self);  // its pace applies to the events still queued
      return caf::ok_atom::value;
    },
    [=](pace_atom) {
      // A new pace applies to the events still queued (none drains them at once).
      if (self->state.queue.repace(pace_of(self->state))) drain(self);
    },
  };
}

} // namespace

ProjectorActor spawn_projector(caf::local_actor* parent, ProjectionTypePtr type, std::set<std::int64_t> parked,
                                ProjectorDeps deps, ProjectorSettings settings, ProjectorMode mode) {
  // Detached: each projector runs on a thread of its own, never on the
  // cooperative scheduler's threads that aggregates, the relays and the
  // registry share. Projection handlers are user code that may block (a slow
  // computation, a sleep, a synchronous call); on a shared worker that would
  // stall every command (G5). A thread per projector is affordable because
  // projections are few and fixed at registration (one live copy each, plus a
  // shadow copy during a rebuild or reconciliation).
  return parent->spawn<caf::detached>(projector, std::move(type), std::move(parked), std::move(deps), settings,
                                      std::move(mode));
}

} // namespace annals::actors
