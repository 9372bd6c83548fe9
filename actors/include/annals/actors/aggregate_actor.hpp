#pragma once
// The aggregate actor: one per active aggregate instance. It recovers its
// state (snapshot, then later events), then handles commands one at a time in
// arrival order: idempotency check, decide, append through the journal,
// evolve, reply. Commands that arrive meanwhile wait in its queue.
//
// Protocol:  (execute_atom, CommandEnvelope) -> CommandResult
//            (inspect_atom)                  -> AggregateView
// When idle for `passivate_after` it asks the router to forget it, finishes
// what it holds, and stops.

#include "annals/actors/instruments.hpp"
#include "annals/actors/journal.hpp"
#include "annals/actors/messages.hpp"
#include "annals/actors/store_reader.hpp"

#include <caf/actor.hpp>

#include <chrono>
#include <cstddef>

namespace annals::actors {

struct AggregateSettings {
  std::chrono::milliseconds passivate_after{std::chrono::minutes(5)};
  std::chrono::milliseconds journal_timeout{std::chrono::seconds(30)};
  std::size_t max_queued_commands = 10000;
  std::size_t recovery_batch = 1000;
  bool audit = true;  ///< record accepted commands in the audit trail, with their events
};

struct AggregateDeps {
  JournalActor journal;
  StoreReaderActor reader;
  caf::actor router;
  UpcastersPtr upcasters;  ///< stored events are brought to the current schema before evolve
  AggregateInstruments instruments;
  LoggerPtr log;
};

caf::actor spawn_aggregate(caf::local_actor* parent, StreamId stream, AggregateTypePtr type,
                           AggregateDeps deps, AggregateSettings settings);

} // namespace annals::actors
