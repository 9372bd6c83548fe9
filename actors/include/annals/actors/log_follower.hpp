#pragma once
// The log follower: notices events that other processes commit to a shared
// store and tells the event bus the new head, so this process's projections
// (and their min_position waits) see every process's writes, not only what
// its own journal commits (G9), on its own connection and thread. PostgreSQL
// wakes it at once (LISTEN/NOTIFY, EventLog::await_commit_notice); it still
// reads the head every `interval` there, so a notice lost with a connection
// costs one interval. SQLite sends no notices: it polls every `interval`, and
// EventLog::polled_head() keeps an idle poll to one cheap check (PRAGMA
// data_version).

#include "annals/actors/event_bus.hpp"
#include "annals/log.hpp"
#include "annals/persistence/event_store.hpp"

#include <caf/fwd.hpp>

#include <chrono>
#include <memory>

namespace annals::actors {

/// Spawns the follower (detached: a poll may wait on the store). It stops
/// with the actor system or an exit message; a failing store is logged once
/// per outage (store.follow_failed) and polled again.
caf::actor spawn_log_follower(caf::actor_system& sys, std::unique_ptr<EventStore> store, EventBusActor bus,
                              std::chrono::milliseconds interval, LoggerPtr log);

} // namespace annals::actors
