#pragma once
// The journal: the single writer of one store. Appends from all aggregates
// queue up while a transaction commits and go into the next one together
// (group commit). Each append is answered only after its transaction
// committed; then the batch's events go to the event bus, in commit order.
//
// Protocol:  (append_atom, AppendRequest) -> AppendOutcome
//            (snapshot_atom, Snapshot)     -> nothing (best effort)
//            (audit_atom, AuditRecord)     -> nothing (written with the next batch)

#include "annals/log.hpp"

#include <caf/fwd.hpp>

#include <cstddef>
#include <memory>

namespace annals {
class EventStore;
}

namespace annals::actors {

struct JournalOptions {
  std::size_t max_batch = 512;  ///< appends per transaction at most
};

/// Spawns the journal on its own thread (SQLite calls block). `bus` may be
/// an invalid handle: then nothing is published.
caf::actor spawn_journal(caf::actor_system& sys, std::unique_ptr<EventStore> store,
                         JournalOptions options, caf::actor bus, LoggerPtr log);

} // namespace annals::actors
