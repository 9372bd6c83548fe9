#include "annals/actors/aggregate_actor.hpp"
#include "detail/error_text.hpp"
#include "detail/fifo.hpp"

#include "annals/quoted.hpp"

#include <caf/actor_system.hpp>
#include <caf/after.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>

#include <any>
#include <random>

namespace annals::actors {

namespace {

struct QueuedCommand {
  CommandEnvelope envelope;
  caf::typed_response_promise<CommandResult> promise;
};

using InspectionPromise = caf::typed_response_promise<Expected<AggregateInspection>>;

// A seed for an actor's jitter. std::random_device per actor cost a read of
// the kernel's entropy for every activation (5% of bench W4's time).
std::uint_fast32_t jitter_seed() {
  thread_local std::mt19937 seeds{std::random_device{}()};
  return static_cast<std::uint_fast32_t>(seeds());
}

// The visible lifecycle: recovering -> running -> (leaving) -> stopped.
enum class Phase { recovering, running, leaving };

struct AggregateState {
  StreamId stream;
  AggregateTypePtr type;
  AggregateDeps deps;
  AggregateSettings settings;

  Phase phase = Phase::recovering;
  std::any state;
  std::int64_t version = 0;
  std::optional<Error> broken;  // recovery failed: answer everything with this, then stop
  std::chrono::steady_clock::time_point recovery_started = std::chrono::steady_clock::now();

  detail::Fifo<QueuedCommand> queue;
  std::vector<InspectionPromise> inspections;  // asked while recovering
  bool busy = false;       // the front command is waiting for the store
  int conflict_attempts = 0;     // reloads of the front command after conflicts
  std::uint64_t commands_started = 0;  // tells a stale reload message from the current one
  std::minstd_rand jitter{jitter_seed()};
  std::uint64_t received = 0;    // requests from the registry, for the passivation handshake
  bool asking_to_leave = false;  // a passivation request is on its way
  bool evicted = false;          // the registry wants it gone once idle

  static inline const char* name = "annals.aggregate";
};

using Self = AggregateActor::stateful_base<AggregateState>;

void pump(Self* self);
void start_recovery(Self* self);
void reread_stream(Self* self);
Expected<AggregateInspection> view_of(Self* self);
void leave(Self* self);

// Answers the front command and moves on.
void complete(Self* self, CommandResult result) {
  auto& st = self->state;
  st.queue.front().promise.deliver(std::move(result));
  st.queue.pop_front();
  st.busy = false;
  st.conflict_attempts = 0;
  ++st.commands_started;
}

CommandResult rejected(Self* self, Error e) {
  return CommandResult::reject(self->state.stream, std::move(e), self->state.version);
}
CommandResult failed(Self* self, Error e) {
  return CommandResult::fail(self->state.stream, std::move(e), self->state.version);
}

Error from_caf(Self* self, const caf::error& err, const char* what) {
  if (err == caf::sec::request_timeout)
    return Error{errc::timeout, std::string(what) + " did not answer in time; the outcome is unknown"};
  return Error{errc::store_unavailable, std::string(what) + " is unavailable: " + detail::error_text(self->system(), err)};
}

// Applies committed events to the state. A throwing event handler is a bug in
// domain code: the state can no longer be trusted, so the actor leaves and
// the next activation rebuilds it (and reports the same error if it persists).
bool evolve_all(Self* self, std::vector<Event>& events) {
  auto& st = self->state;
  for (auto& ev : events) {
    if (auto err = st.deps.upcasters->upcast(ev)) {
      st.broken = Error{errc::internal_error, "cannot apply stored event: " + err->message};
      return false;
    }
    try {
      st.type->evolve(st.state, ev);
      st.version = ev.version;
    } catch (const std::exception& e) {
      st.broken = Error{errc::internal_error, std::string("cannot apply stored event: ") + e.what()};
      return false;
    }
  }
  return true;
}

void maybe_snapshot(Self* self, std::int64_t before) {
  auto& st = self->state;
  const int every = st.type->snapshot_every();
  if (every <= 0 || st.version / every == before / every) return;
  try {
    Snapshot snap{st.stream, st.version, st.type->snapshot_version(), st.type->to_snapshot(st.state), now_us()};
    if (!is_finite_json(snap.state)) return;  // could not be read back
    caf::anon_send(st.deps.journal, snapshot_atom::value, std::move(snap));
  } catch (const std::exception&) {
    // A state that cannot be serialized just means no snapshot.
  }
}

// Reads the stream from version+1 in batches and applies it; then calls `done`.
void catch_up(Self* self, std::function<void(std::optional<Error>)> done) {
  auto& st = self->state;
  self->request(st.deps.reader, st.settings.store_timeout,
                ReadStream{st.stream, st.version + 1, st.settings.recovery_batch})
    .then(
      [=](Expected<std::vector<Event>>& events) {
        if (!events) return done(events.error());
        const bool more = events->size() >= self->state.settings.recovery_batch;
        if (!evolve_all(self, *events)) return done(self->state.broken);
        if (more) return catch_up(self, done);
        done(std::nullopt);
      },
      [=](caf::error& err) { done(from_caf(self, err, "the store reader")); });
}

// After an append whose outcome is unknown (the store's COMMIT failed, or
// the journal did not answer) the events may have been committed, so the
// in-memory state and version can be behind the stream. The next command is
// decided only after the stream was read again (commands queue meanwhile,
// as during recovery): never on a state or an expected version that may be
// stale. If the stream cannot be read, the actor is broken and leaves; the
// next activation recovers from the store.
void reread_stream(Self* self) {
  auto& st = self->state;
  const Phase resume = st.phase;
  st.phase = Phase::recovering;
  catch_up(self, [=](std::optional<Error> err) {
    auto& s = self->state;
    s.phase = resume;
    if (err && !s.broken)
      s.broken = Error{err->code, "cannot re-read " + s.stream.to_string()
                                    + " after an append of unknown outcome: " + err->message};
    for (auto& rp : s.inspections) rp.deliver(view_of(self));
    s.inspections.clear();
    pump(self);  // when broken, fails everything queued with that error
    if (s.broken) leave(self);
  });
}

void decide_and_append(Self* self);

// Reloads the stream (events another writer appended) and decides the front
// command again.
void reload_and_decide(Self* self) {
  self->state.deps.instruments.conflict_reloads->Increment();
  catch_up(self, [=](std::optional<Error> err) {
    if (err) {
      complete(self, failed(self, *err));
      if (self->state.broken) leave(self);
      pump(self);
      return;
    }
    self->state.busy = false;
    decide_and_append(self);
    pump(self);
  });
}

// The append met a newer version: retry, bounded and with a growing pause
// (two writers that keep colliding must drift apart), or give up with the
// conflict when the retries or the caller's deadline are used up.
void retry_after_conflict(Self* self, const Error& conflict) {
  auto& st = self->state;
  const auto& front = st.queue.front();
  const auto now = std::chrono::steady_clock::now();
  if (st.conflict_attempts >= st.settings.conflict_retries || now > front.envelope.deadline) {
    const int attempts = st.conflict_attempts + 1;
    complete(self, failed(self, Error{errc::concurrency_conflict,
                                      conflict.message + " (" + std::to_string(attempts) + " attempt"
                                        + (attempts == 1 ? "" : "s")
                                        + "; another writer keeps appending to this stream)"}));
    pump(self);
    return;
  }
  const int n = st.conflict_attempts++;
  if (n == 0) return reload_and_decide(self);  // the common case: one write got in between
  const auto base = st.settings.conflict_backoff * (1 << std::min(n - 1, 6));
  std::uniform_int_distribution<long long> spread(base.count() / 2, base.count() * 3 / 2);
  self->delayed_send(self, std::chrono::milliseconds(std::max<long long>(1, spread(st.jitter))), reload_atom::value,
                     st.commands_started);
}

// This node may not write the stream (G8): the command fails with not_owner
// and the actor stops, so its state, which another node may now change, is
// never used again; commands already queued fail the same way, each after
// its own ownership check.
void fenced(Self* self, Error e) {
  self->state.deps.instruments.fenced_appends->Increment();
  complete(self, failed(self, std::move(e)));
  leave(self);
}

// Step 2 of a command (after the idempotency check): decide, then append.
void decide_and_append(Self* self) {
  auto& st = self->state;
  const Command& cmd = st.queue.front().envelope.command;
  if (cmd.expected_version && *cmd.expected_version != st.version) {
    complete(self, rejected(self, Error{errc::concurrency_conflict,
                                       st.stream.to_string() + " is at version " + std::to_string(st.version)
                                         + ", the command expected version "
                                         + std::to_string(*cmd.expected_version)}));
    return;
  }
  Decision decision;
  try {
    decision = st.type->decide(st.state, cmd);
  } catch (const std::exception& e) {
    complete(self, failed(self, Error{errc::internal_error,
                                      "the handler of '" + cmd.command + "' threw: " + e.what()}));
    return;
  }
  if (!decision.accepted()) {
    complete(self, rejected(self, decision.rejection()));
    return;
  }
  AppendRequest req;
  req.stream = st.stream;
  req.expected_version = st.version;
  req.events = decision.take_events();
  for (const auto& ev : req.events) {
    // Writing an old shape would be upcast again on every read: refuse it.
    const int current = st.deps.upcasters->current_version(st.stream.aggregate, ev.type);
    if (ev.schema_version != current) {
      complete(self, failed(self, Error{errc::internal_error,
                                        "event '" + ev.type + "' is written as schema version "
                                          + std::to_string(ev.schema_version) + " but the current version is "
                                          + std::to_string(current) + " (set its schema_version)"}));
      return;
    }
  }
  if (req.events.empty() && !cmd.idempotency_key) {
    complete(self, CommandResult::accept(st.stream, st.version, 0, {}));
    return;
  }
  req.metadata.correlation_id = cmd.metadata.correlation_id;
  req.metadata.causation_id = cmd.command_id;
  req.metadata.principal = cmd.metadata.principal;
  req.idempotency_key = cmd.idempotency_key;
  if (cmd.idempotency_key) req.fingerprint = cmd.fingerprint();
  req.audit = st.queue.front().envelope.audit;  // copied: a retry after a conflict needs it again
  if (st.deps.ownership) {
    // Read at each append, not at activation: the lease may have moved
    // since, and a fence from before a takeover would be refused anyway.
    req.fence = st.deps.ownership->fence_for(st.stream);
    if (!req.fence) {
      const int shard = shard_of(st.stream, st.deps.ownership->shard_count());
      fenced(self, Error{errc::not_owner, "this node does not hold shard " + std::to_string(shard) + " of "
                                            + quoted(st.stream.to_string())
                                            + " (any more); nothing was written; the command can be sent again:"
                                              " it goes to the shard's current owner"});
      return;
    }
  }
  st.busy = true;
  self->request(st.deps.journal, st.settings.store_timeout, append_atom::value, std::move(req))
    .then(
      [=](AppendOutcome& outcome) {
        auto& s = self->state;
        if (outcome) {
          if (outcome->replay) {
            complete(self, std::move(*outcome->replay));
          } else {
            const std::int64_t before = s.version;
            CommandResult result = outcome->to_result(s.stream);
            if (!evolve_all(self, outcome->events)) {
              // Committed, so the caller is told so; the state is rebuilt later.
              complete(self, std::move(result));
              leave(self);
              return;
            }
            s.version = outcome->version;
            maybe_snapshot(self, before);
            complete(self, std::move(result));
          }
        } else if (outcome.error().is(errc::not_owner)) {
          fenced(self, outcome.error());
        } else if (outcome.error().is(errc::concurrency_conflict)) {
          // Another writer (another process or runtime on the same file)
          // got there first: reload the stream and decide once more.
          retry_after_conflict(self, outcome.error());
          return;
        } else {
          const Error& e = outcome.error();
          const bool refused = e.is(errc::payload_too_large) || e.is(errc::idempotency_conflict);
          const bool unknown = e.is(errc::outcome_unknown);
          complete(self, refused ? rejected(self, e) : failed(self, e));
          if (unknown) reread_stream(self);
        }
        pump(self);
      },
      [=](caf::error& err) {
        // No answer: the append may have committed, or may still commit
        // later (then the next append meets a conflict and catches up).
        complete(self, failed(self, from_caf(self, err, "the journal")));
        reread_stream(self);
        pump(self);
      });
}

// Step 1 of a command: a command with an idempotency key that was seen
// before gets its first result back instead of being decided again.
void start_command(Self* self) {
  auto& st = self->state;
  QueuedCommand& front = st.queue.front();
  if (std::chrono::steady_clock::now() > front.envelope.deadline) {
    complete(self, failed(self, Error{errc::timeout, "the command waited too long for its aggregate and was not executed"}));
    return;
  }
  const Command& cmd = front.envelope.command;
  if (!cmd.idempotency_key) {
    decide_and_append(self);
    return;
  }
  st.busy = true;
  self->request(st.deps.reader, st.settings.store_timeout, FindIdempotencyKey{*cmd.idempotency_key})
    .then(
      [=](Expected<std::optional<IdempotencyRecord>>& recorded) {
        auto& s = self->state;
        const Command& c = s.queue.front().envelope.command;
        if (!recorded) {
          complete(self, failed(self, recorded.error()));
        } else if (*recorded) {
          // The store's rule: the first result again, or idempotency_conflict.
          auto first = (*recorded)->replay_for(c.fingerprint());
          complete(self, first ? std::move(*first) : rejected(self, first.error()));
        } else {
          s.busy = false;
          decide_and_append(self);
        }
        pump(self);
      },
      [=](caf::error& err) {
        complete(self, failed(self, from_caf(self, err, "the store reader")));
        pump(self);
      });
}

// Starts queued commands until one has to wait for the store.
void pump(Self* self) {
  auto& st = self->state;
  while (!st.busy && !st.queue.empty()) {
    if (st.phase == Phase::recovering) return;
    if (st.broken) {
      complete(self, failed(self, *st.broken));
      continue;
    }
    start_command(self);
  }
  if (st.busy || !st.queue.empty()) return;
  if (st.phase == Phase::leaving) self->quit();
  else if (st.evicted && st.phase == Phase::running) leave(self);
}

// Asks the activation registry to let this actor stop. Granted, it stops once
// its queue is empty (nothing more can arrive); refused, requests are on their
// way: it stays and asks again when idle next time.
void leave(Self* self) {
  auto& st = self->state;
  if (st.phase == Phase::leaving || st.asking_to_leave) return;
  st.asking_to_leave = true;
  self->request(st.deps.registry, st.settings.registry_timeout, passivate_atom::value, st.received)
    .then(
      [=](bool granted) {
        auto& s = self->state;
        s.asking_to_leave = false;
        if (!granted) return;
        s.phase = Phase::leaving;
        pump(self);
      },
      // No answer: stay; the registry still routes this stream here.
      [=](caf::error&) { self->state.asking_to_leave = false; });
}

void start_recovery(Self* self) {
  auto& st = self->state;
  auto finish = [=](std::optional<Error> err) {
    auto& s = self->state;
    s.phase = Phase::running;
    const auto took = std::chrono::steady_clock::now() - s.recovery_started;
    s.deps.instruments.recoveries->Increment();
    s.deps.instruments.recovery_seconds->Observe(std::chrono::duration<double>(took).count());
    if (err) s.broken = Error{err->code, "cannot recover " + s.stream.to_string() + ": " + err->message};
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(took);
    if (s.broken)
      s.deps.log->log(LogLevel::error, "aggregate.recovery_failed", s.broken->message,
                      {{"aggregate", s.stream.aggregate}, {"id", s.stream.id}, {"code", s.broken->code}});
    else if (ms >= s.deps.log->options().slow_recovery)
      s.deps.log->log(LogLevel::warn, "aggregate.slow_recovery",
                      "recovering " + s.stream.to_string() + " took " + std::to_string(ms.count()) + " ms",
                      {{"aggregate", s.stream.aggregate}, {"id", s.stream.id}, {"version", s.version},
                       {"duration_ms", ms.count()}});
    for (auto& rp : s.inspections) rp.deliver(view_of(self));
    s.inspections.clear();
    pump(self);  // when broken, fails everything queued with that error
    if (s.broken) leave(self);
  };
  if (st.type->snapshot_every() <= 0) {
    catch_up(self, finish);
    return;
  }
  self->request(st.deps.reader, st.settings.store_timeout, LoadSnapshot{st.stream})
    .then(
      [=](Expected<std::optional<Snapshot>>& loaded) {
        auto& s = self->state;
        const Snapshot* snapshot = loaded && *loaded ? &**loaded : nullptr;
        // A snapshot is only a shortcut: one that cannot be read is ignored
        // and the state rebuilt from all events; one of another shape
        // (snapshot_version) is ignored too, never misread.
        if (snapshot && snapshot->snapshot_version == s.type->snapshot_version()) {
          auto restored = s.type->from_snapshot(snapshot->state);
          if (restored) {
            s.state = std::move(*restored);
            s.version = snapshot->version;
          }
        }
        catch_up(self, finish);
      },
      [=](caf::error&) { catch_up(self, finish); });
}

Expected<AggregateInspection> view_of(Self* self) {
  auto& s = self->state;
  if (s.broken) return *s.broken;
  return AggregateInspection{s.version, s.type->state_to_json(s.state)};
}

AggregateActor::behavior_type aggregate(Self* self, StreamId stream, AggregateTypePtr type, AggregateDeps deps,
                        AggregateSettings settings) {
  auto& st = self->state;
  st.stream = std::move(stream);
  st.type = std::move(type);
  st.deps = std::move(deps);
  st.settings = settings;
  st.state = st.type->initial_state();
  start_recovery(self);
  return {
    [=](execute_atom, CommandEnvelope& env) {
      auto& s = self->state;
      ++s.received;
      auto rp = self->make_response_promise<CommandResult>();
      if (s.queue.size() >= s.settings.max_queued_commands) {
        rp.deliver(CommandResult::fail(s.stream, Error{errc::overloaded,
                                                        std::to_string(s.queue.size())
                                                          + " commands are already waiting for "
                                                          + s.stream.to_string()}));
        return rp;
      }
      s.queue.push_back(QueuedCommand{std::move(env), rp});
      pump(self);
      return rp;
    },
    [=](inspect_atom) {
      ++self->state.received;
      auto rp = self->make_response_promise<Expected<AggregateInspection>>();
      if (self->state.phase == Phase::recovering) self->state.inspections.push_back(rp);
      else rp.deliver(view_of(self));
      return rp;
    },
    [=](evict_atom) {
      self->state.evicted = true;
      pump(self);  // leaves now if idle, else once the queue is done
    },
    [=](reload_atom, std::uint64_t command) {
      if (command == self->state.commands_started && !self->state.queue.empty()) reload_and_decide(self);
    },
    caf::after(settings.passivate_after) >> [=] {
      auto& s = self->state;
      if (s.phase == Phase::running && !s.busy && s.queue.empty()) leave(self);
    },
  };
}

} // namespace

AggregateActor spawn_aggregate(caf::local_actor* parent, StreamId stream, AggregateTypePtr type,
                                AggregateDeps deps, AggregateSettings settings) {
  return parent->spawn(aggregate, std::move(stream), std::move(type), std::move(deps), settings);
}

} // namespace annals::actors
