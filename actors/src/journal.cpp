#include "annals/actors/journal.hpp"

#include "annals/actors/event_bus.hpp"  // committed_atom, CommittedEvents
#include "annals/actors/messages.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>

#include <cstdio>
#include <utility>
#include <vector>

namespace annals::actors {

namespace {

struct PendingAppend {
  AppendRequest request;
  caf::response_promise promise;
};

struct JournalState {
  std::unique_ptr<EventStore> store;
  JournalOptions options;
  caf::actor bus;
  LoggerPtr log;
  std::vector<PendingAppend> pending;
  std::vector<Snapshot> snapshots;
  std::vector<ProjectionSnapshot> projection_snapshots;
  std::vector<AuditRecord> audit;  // outcomes of commands that appended nothing
  bool flush_scheduled = false;
  static inline const char* name = "annals.journal";
};

using JournalActor = caf::stateful_actor<JournalState>;

// Commits everything pending in one transaction, answers each append, then
// publishes the committed events in position order.
void flush(JournalActor* self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (!st.pending.empty()) {
    std::vector<PendingAppend> batch;
    batch.swap(st.pending);
    std::vector<AppendRequest> requests;
    requests.reserve(batch.size());
    for (auto& p : batch) requests.push_back(std::move(p.request));
    std::vector<AppendOutcome> outcomes;
    try {
      outcomes = st.store->append(requests);
    } catch (const StoreError& e) {
      outcomes.assign(batch.size(), AppendOutcome{e.error()});
      st.log->log(LogLevel::error, "store.error", e.what(),
                  {{"failure", to_string(e.kind())}, {"appends_failed", batch.size()}});
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
  for (auto& snap : st.snapshots) {
    try {
      st.store->save_snapshot(snap);
    } catch (const std::exception&) {
    }
  }
  st.snapshots.clear();
  for (auto& snap : st.projection_snapshots) {
    try {
      st.store->save_projection_snapshot(snap);
    } catch (const std::exception&) {
    }
  }
  st.projection_snapshots.clear();
  if (!st.audit.empty()) {
    std::vector<AuditRecord> records;
    records.swap(st.audit);
    try {
      st.store->append_audit(records);
    } catch (const std::exception& e) {
      st.log->log(LogLevel::error, "store.error",
                  std::to_string(records.size()) + " audit record(s) could not be written: " + e.what(),
                  {{"audit_records_lost", records.size()}});
    }
  }
}

// Runs one small write that is not an append; errors come back as values.
template <class F>
StoreAck write(JournalActor* self, F&& f) {
  StoreAck ack;
  try {
    f(*self->state.store);
  } catch (const StoreError& e) {
    ack.error = e.error();
  } catch (const std::exception& e) {
    ack.error = Error{errc::store_unavailable, e.what()};
  }
  return ack;
}

void schedule_flush(JournalActor* self) {
  if (!self->state.flush_scheduled) {
    self->state.flush_scheduled = true;
    self->send(self, flush_atom::value);
  }
}

caf::behavior journal(JournalActor* self, std::shared_ptr<std::unique_ptr<EventStore>> store,
                      JournalOptions options, caf::actor bus, LoggerPtr log) {
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
      st.pending.push_back(PendingAppend{std::move(req), self->make_response_promise()});
      if (st.pending.size() >= st.options.max_batch) {
        flush(self);
      } else {
        // Everything already in the mailbox arrives before the flush
        // message, so it all goes into one transaction.
        schedule_flush(self);
      }
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
      return write(self, [&](EventStore& s) { s.park_event(letter); });
    },
    [=](unpark_atom, const std::string& projection, std::int64_t position) {
      return write(self, [&](EventStore& s) { s.remove_dead_letter(projection, position); });
    },
    [=](flush_atom) {
      if (self->state.flush_scheduled) flush(self);
    },
  };
}

} // namespace

caf::actor spawn_journal(caf::actor_system& sys, std::unique_ptr<EventStore> store,
                         JournalOptions options, caf::actor bus, LoggerPtr log) {
  // A unique_ptr cannot be copied into the spawn arguments; hand it over in a shared box.
  auto box = std::make_shared<std::unique_ptr<EventStore>>(std::move(store));
  return sys.spawn<caf::detached>(journal, box, options, std::move(bus), std::move(log));
}

} // namespace annals::actors
