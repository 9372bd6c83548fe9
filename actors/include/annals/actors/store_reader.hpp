#pragma once
// A store reader: serves reads (recovery, idempotency lookups, catch-up) on
// its own connection and thread, so neither the journal nor the cooperative
// scheduler waits for them. SQLite's WAL lets readers run beside the writer.
//
// Protocol:  (read_atom, ReadRequest) -> ReadReply

#include <caf/fwd.hpp>

#include <memory>

namespace annals {
class EventStore;
}

namespace annals::actors {

caf::actor spawn_store_reader(caf::actor_system& sys, std::unique_ptr<EventStore> store);

} // namespace annals::actors
