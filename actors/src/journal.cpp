#include "annals/actors/journal.hpp"

#include "annals/actors/event_bus.hpp"  // committed_atom, CommittedEvents
#include "annals/actors/messages.hpp"

#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <utility>
#include <vector>

namespace annals::actors {

namespace {

using flush_atom = caf::atom_constant<caf::atom("flush")>;

// The journal's own interface: the public protocol plus the flush it sends
// itself once the appends already in its mailbox are queued.
using JournalImpl = JournalActor::extend<caf::reacts_to<flush_atom>>;

struct PendingAppend {
  AppendRequest request;
  caf::typed_response_promise<AppendOutcome> promise;
};

struct JournalState {
  std::unique_ptr<EventStore> store;
  JournalOptions options;
  EventBusActor bus;
  LoggerPtr log;
  std::vector<PendingAppend> pending;
  std::vector<Snapshot> snapshots;
  std::vector<ProjectionSnapshot> projection_snapshots;
  std::vector<AuditRecord> audit;  // outcomes of commands that appended nothing
  bool flush_scheduled = false;
  static inline const char* name = "annals.journal";
};

using Self = JournalImpl::stateful_pointer<JournalState>;

// Commits the pending appends in one transaction, answers each, then
// publishes the committed events in position order. A failed batch answers
// every append with the store's error: store_unavailable (not written) or
// outcome_unknown (COMMIT failed; it may have been written).
void commit_appends(JournalState& st, EventLog& log) {
  if (st.pending.empty()) return;
  std::vector<PendingAppend> batch;
  batch.swap(st.pending);
  std::vector<AppendRequest> requests;
  requests.reserve(batch.size());
  for (auto& p : batch) requests.push_back(std::move(p.request));
  std::vector<AppendOutcome> outcomes;
  try {
    outcomes = log.append(requests);
  } catch (const StoreError& e) {
    outcomes.assign(batch.size(), AppendOutcome{e.error()});
    const bool unknown = e.outcome() == StoreError::Outcome::unknown;
    st.log->log(LogLevel::error, "store.error", e.what(),
                {{"failure", to_string(e.kind())}, {"appends_failed", batch.size()},
                 {"outcome", unknown ? "unknown" : "not_written"}});
  } catch (const std::exception& e) {
    outcomes.assign(batch.size(), AppendOutcome{Error{errc::store_unavailable, e.what()}});
    st.log->log(LogLevel::error, "store.error", e.what(), {{"appends_failed", batch.size()}});
  }
  auto published = std::make_shared<std::vector<Event>>();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (outcomes[i] && !outcomes[i]->replay)
      for (const auto& ev : outcomes[i]->events) published->push_back(ev);
    batch[i].promise.deliver(std::move(outcomes[i]));
  }
  if (st.bus && !published->empty())
    caf::anon_send(st.bus, committed_atom::value, CommittedEvents{std::move(published)});
}

// Snapshots are an optimisation: written after the events, failures ignored.
void save_snapshots(JournalState& st, AggregateSnapshotStore& aggregates, ProjectionStateStore& projections) {
  for (auto& snap : st.snapshots) {
    try {
      aggregates.save_snapshot(snap);
    } catch (const std::exception&) {
    }
  }
  st.snapshots.clear();
  for (auto& snap : st.projection_snapshots) {
    try {
      projections.save_projection_snapshot(snap);
    } catch (const std::exception&) {
    }
  }
  st.projection_snapshots.clear();
}

void write_audit(JournalState& st, AuditTrail& trail) {
  if (st.audit.empty()) return;
  std::vector<AuditRecord> records;
  records.swap(st.audit);
  try {
    trail.append_audit(records);
  } catch (const std::exception& e) {
    st.log->log(LogLevel::error, "store.error",
                std::to_string(records.size()) + " audit record(s) could not be written: " + e.what(),
                {{"audit_records_lost", records.size()}});
  }
}

// Writes everything pending: appends first (their callers wait), then
// snapshots and audit lines.
void flush(Self self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  EventStore& store = *st.store;
  commit_appends(st, store);
  save_snapshots(st, store, store);
  write_audit(st, store);
}

// Runs one small write of projection state; errors come back as values.
template <class F>
StoreAck write(ProjectionStateStore& projections, F&& f) {
  StoreAck ack;
  try {
    f(projections);
  } catch (const StoreError& e) {
    ack.error = e.error();
  } catch (const std::exception& e) {
    ack.error = Error{errc::store_unavailable, e.what()};
  }
  return ack;
}

void schedule_flush(Self self) {
  if (!self->state.flush_scheduled) {
    self->state.flush_scheduled = true;
    self->send(JournalImpl{self}, flush_atom::value);
  }
}

JournalImpl::behavior_type journal(Self self, std::shared_ptr<std::unique_ptr<EventStore>> store,
                                   JournalOptions options, EventBusActor bus, LoggerPtr log) {
  self->state.log = std::move(log);
  self->state.store = std::move(*store);
  self->state.options = options;
  self->state.bus = std::move(bus);
  // On shutdown, commit what is already queued so that those callers get
  // their answer, then stop.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    flush(self);
    self->quit(msg.reason);
  });
  return {
    [=](append_atom, AppendRequest& req) {
      auto& st = self->state;
      auto promise = self->make_response_promise<AppendOutcome>();
      st.pending.push_back(PendingAppend{std::move(req), promise});
      if (st.pending.size() >= st.options.max_batch) {
        flush(self);
      } else {
        // Everything already in the mailbox arrives before the flush
        // message, so it all goes into one transaction.
        schedule_flush(self);
      }
      return promise;
    },
    [=](snapshot_atom, Snapshot& snap) {
      self->state.snapshots.push_back(std::move(snap));
      schedule_flush(self);
    },
    [=](snapshot_atom, ProjectionSnapshot& snap) {
      self->state.projection_snapshots.push_back(std::move(snap));
      schedule_flush(self);
    },
    [=](audit_atom, AuditRecord& rec) {
      self->state.audit.push_back(std::move(rec));
      schedule_flush(self);
    },
    [=](park_atom, const DeadLetter& letter) {
      return write(*self->state.store, [&](ProjectionStateStore& s) { s.park_event(letter); });
    },
    [=](unpark_atom, const std::string& projection, std::int64_t position) {
      return write(*self->state.store, [&](ProjectionStateStore& s) { s.remove_dead_letter(projection, position); });
    },
    [=](retried_atom, const RetriedDeadLetter& retried) {
      flush(self);
      bool removed = true;
      auto ack = write(*self->state.store, [&](ProjectionStateStore& s) {
        removed = s.unpark_retried(retried.projection, retried.position, retried.snapshot);
      });
      if (!ack.error && !removed)
        ack.error = Error{errc::invalid_query, "event " + std::to_string(retried.position)
                                                 + " is no longer parked for projection '" + retried.projection
                                                 + "' (retried by another process?)"};
      return ack;
    },
    [=](flush_atom) {
      if (self->state.flush_scheduled) flush(self);
    },
  };
}

} // namespace

JournalActor spawn_journal(caf::actor_system& sys, std::unique_ptr<EventStore> store, JournalOptions options,
                           EventBusActor bus, LoggerPtr log) {
  // A unique_ptr cannot be copied into the spawn arguments; hand it over in a shared box.
  auto box = std::make_shared<std::unique_ptr<EventStore>>(std::move(store));
  return sys.spawn<caf::detached>(journal, box, options, std::move(bus), std::move(log));
}

} // namespace annals::actors
