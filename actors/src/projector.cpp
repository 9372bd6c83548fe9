#include "annals/actors/projector.hpp"
#include "detail/error_text.hpp"

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
#include <map>
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

// A retried dead letter the projector had not reached yet: it is applied at
// its own position, and answered once that is done and the store has
// unparked it.
struct PendingRetry {
  caf::typed_response_promise<StoreAck> promise;
  bool unparked = false;
  bool applied = false;
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
  std::map<std::int64_t, PendingRetry> retries;  // retried events ahead of the checkpoint, by position
  // Retries whose store write (unpark) is not confirmed yet: no snapshot is
  // saved meanwhile, so no stored snapshot can include a retried event that
  // the store still lists as parked (a later retry would apply it twice).
  int unparks_in_flight = 0;

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

// The model at the checkpoint as a snapshot; none if it cannot be stored
// and read back.
std::optional<ProjectionSnapshot> make_snapshot(const ProjectorState& st) {
  try {
    ProjectionSnapshot snap{st.type->name(), st.checkpoint, st.type->snapshot_version(),
                            st.type->model_to_json(st.model), now_us()};
    if (!is_finite_json(snap.model)) return std::nullopt;  // could not be read back
    return snap;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void save_snapshot(Self self) {
  auto& st = self->state;
  if (st.unparks_in_flight > 0) return;  // taken once the store confirms (see ProjectorState)
  st.since_snapshot = 0;
  // Sent by this projector only, so the journal writes them in this order,
  // after any retry's unpark sent before.
  if (auto snap = make_snapshot(st)) caf::anon_send(st.deps.journal, snapshot_atom::value, std::move(*snap));
}

void maybe_snapshot(Self self) {
  auto& st = self->state;
  const int every = st.type->snapshot_every();
  // A shadow copy never overwrites the live copy's snapshot.
  if (every <= 0 || !live_copy(st) || ++st.since_snapshot < every) return;
  save_snapshot(self);
}

// A retry at its own position is answered once it is both applied and unparked.
void finish_retry(Self self, std::int64_t position) {
  auto& st = self->state;
  auto it = st.retries.find(position);
  if (it == st.retries.end() || !it->second.applied || !it->second.unparked) return;
  it->second.promise.deliver(StoreAck{});
  st.retries.erase(it);
}

// Every pending retry fails (the projector is dying), with `why`.
void fail_retries(Self self, const Error& why) {
  for (auto& [position, r] : self->state.retries) r.promise.deliver(StoreAck{why});
  self->state.retries.clear();
}

// A retry's store write failed: the model may hold an event the store still
// parks. Dying makes the next projector start again from what is stored.
void retry_write_failed(Self self, std::int64_t position, const Error& error) {
  auto& st = self->state;
  fail_retries(self, Error{error.code, "the retry of event " + std::to_string(position) + " could not be stored: "
                                         + error.message});
  st.dead = true;
  self->quit(caf::make_error(caf::sec::runtime_error, "projection '" + st.type->name() + "': the retry of event "
                                                        + std::to_string(position) + " could not be stored: "
                                                        + error.message));
}

// After a retry's store write: the snapshot it held back, if one is due.
void unpark_confirmed(Self self) {
  auto& st = self->state;
  --st.unparks_in_flight;
  const int every = st.type->snapshot_every();
  if (st.unparks_in_flight == 0 && every > 0 && live_copy(st) && st.since_snapshot >= every) save_snapshot(self);
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
      if (st.retries.count(ev.position))
        st.retries[ev.position].promise.deliver(StoreAck{Error{
          errc::internal_error, "event " + std::to_string(ev.position) + " still fails at its position: " + e.what()
                                  + " (it is no longer parked: it is retried and parked again like any failing event)"}});
      st.retries.erase(ev.position);
      fail_retries(self, Error{errc::internal_error, "projection '" + st.type->name() + "' failed on event "
                                                       + std::to_string(ev.position) + " before reaching this retry"});
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
  if (auto it = st.retries.find(ev.position); it != st.retries.end()) {
    it->second.applied = true;
    finish_retry(self, ev.position);
  }
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

// A parked event retried (docs/projections.md, "Retrying a dead letter").
// Ahead of the checkpoint: it is no longer skipped, so it is applied at its
// own position; the store unparks it first (this projector's later
// snapshots reach the journal after that). Behind the checkpoint: it is
// applied late, to a copy of the model (a failure changes nothing), and the
// store unparks it in the same transaction as the snapshot that includes it.
caf::typed_response_promise<StoreAck> retry(Self self, const Event& ev) {
  auto& st = self->state;
  auto rp = self->make_response_promise<StoreAck>();
  const std::int64_t position = ev.position;
  if (st.retries.count(position)) {
    rp.deliver(StoreAck{Error{errc::overloaded, "event " + std::to_string(position) + " is already being retried"}});
    return rp;
  }
  auto on_error = [=](caf::error& e) { retry_write_failed(self, position, Error{errc::store_unavailable,
                                                                                detail::error_text(self->system(), e)}); };
  if (position > st.checkpoint) {
    st.parked.erase(position);
    st.retries[position] = PendingRetry{rp};
    ++st.unparks_in_flight;
    self->request(st.deps.journal, st.settings.store_timeout, unpark_atom::value, st.type->name(), position)
      .then(
        [=](StoreAck& ack) {
          if (ack.error) return retry_write_failed(self, position, *ack.error);
          if (auto it = self->state.retries.find(position); it != self->state.retries.end()) {
            it->second.unparked = true;
            finish_retry(self, position);
          }
          unpark_confirmed(self);
        },
        on_error);
    return rp;
  }
  std::any trial = st.model;
  try {
    pass_gate(st, ev);  // a retry while an injected failure has attempts left fails too
    Event copy;
    st.type->apply(trial, current_shape(self, ev, copy));
  } catch (const std::exception& e) {
    rp.deliver(StoreAck{Error{errc::internal_error, std::string("event ") + std::to_string(position)
                                                      + " still fails: " + e.what()}});
    return rp;
  }
  st.model = std::move(trial);
  RetriedDeadLetter retried{st.type->name(), position, std::nullopt};
  // Every stored snapshot since it was parked lacks it: this one replaces them.
  if (live_copy(st) && st.type->snapshot_every() > 0) retried.snapshot = make_snapshot(st);
  ++st.unparks_in_flight;
  self->request(st.deps.journal, st.settings.store_timeout, retried_atom::value, std::move(retried))
    .then(
      [=](StoreAck& ack) mutable {
        if (ack.error) {
          rp.deliver(StoreAck{ack.error});
          return retry_write_failed(self, position, *ack.error);
        }
        if (self->state.type->snapshot_every() > 0) self->state.since_snapshot = 0;
        unpark_confirmed(self);
        rp.deliver(StoreAck{});
      },
      [=](caf::error& e) mutable {
        rp.deliver(StoreAck{Error{errc::store_unavailable, detail::error_text(self->system(), e)}});
        on_error(e);
      });
  return rp;
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
    [=](retry_atom, const Event& ev) { return retry(self, ev); },
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
