#pragma once
// A store reader: serves reads (recovery, idempotency lookups, catch-up,
// parked events) on its own connection and thread, so neither the journal
// nor the cooperative scheduler waits for them. SQLite's WAL lets readers run
// beside the writer. Each read is its own message; the answer is the value or
// the store's error (code store_unavailable and the store's sentence), never
// a CAF error. Local only: messages carry JSON values.

#include "annals/expected.hpp"
#include "annals/persistence/event_store.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annals::actors {

/// A stream's events from a version on (EventLog::read_stream).
struct ReadStream {
  StreamId stream;
  std::int64_t from_version = 1;
  std::size_t max_count = 1000;
};

/// All streams' events from a global position on (EventLog::read_all).
struct ReadAll {
  std::int64_t from_position = 1;
  std::size_t max_count = 1000;
};

/// An aggregate's latest snapshot (AggregateSnapshotStore::load_snapshot).
struct LoadSnapshot {
  StreamId stream;
};

/// The record of an idempotency key (EventLog::find_idempotency_key).
struct FindIdempotencyKey {
  std::string key;
};

/// A projection's parked events, "" for all (ProjectionStateStore::dead_letters).
struct ReadDeadLetters {
  std::string projection;
};

/// A projection's saved read model (ProjectionStateStore::load_projection_snapshot).
struct LoadProjectionSnapshot {
  std::string projection;
};

/// The store reader's protocol.
using StoreReaderActor = caf::typed_actor<
  caf::replies_to<ReadStream>::with<Expected<std::vector<Event>>>,
  caf::replies_to<ReadAll>::with<Expected<std::vector<Event>>>,
  caf::replies_to<LoadSnapshot>::with<Expected<std::optional<Snapshot>>>,
  caf::replies_to<FindIdempotencyKey>::with<Expected<std::optional<IdempotencyRecord>>>,
  caf::replies_to<ReadDeadLetters>::with<Expected<std::vector<DeadLetter>>>,
  caf::replies_to<LoadProjectionSnapshot>::with<Expected<std::optional<ProjectionSnapshot>>>>;

/// Spawns a reader on its own thread, reading through `store`.
StoreReaderActor spawn_store_reader(caf::actor_system& sys, std::unique_ptr<EventStore> store);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReadStream)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReadAll)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::LoadSnapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::FindIdempotencyKey)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReadDeadLetters)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::LoadProjectionSnapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Expected<std::vector<annals::Event>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Expected<std::optional<annals::Snapshot>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Expected<std::optional<annals::IdempotencyRecord>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Expected<std::vector<annals::DeadLetter>>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Expected<std::optional<annals::ProjectionSnapshot>>)
