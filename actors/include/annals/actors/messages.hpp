#pragma once
// The messages the actors exchange. Local only: they carry JSON values and
// are never serialized, so they are allowed as "unsafe" message types.
// Included only by actors/ and the runtime facade's .cpp.

#include "annals/aggregate_type.hpp"
#include "annals/command.hpp"
#include "annals/command_result.hpp"
#include "annals/persistence/event_store.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace annals::actors {

using execute_atom = caf::atom_constant<caf::atom("execute")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using read_atom = caf::atom_constant<caf::atom("read")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using count_atom = caf::atom_constant<caf::atom("count")>;
using committed_atom = caf::atom_constant<caf::atom("committed")>;

using Deadline = std::chrono::steady_clock::time_point;

/// A command on its way to its aggregate, with the time after which nobody
/// waits for the answer any more (the aggregate then skips it).
struct CommandEnvelope {
  Command command;
  Deadline deadline;
};

/// What the store reader is asked for.
struct ReadRequest {
  enum class Kind { snapshot, stream, idempotency_key } kind = Kind::stream;
  StreamId stream;
  std::int64_t from_version = 1;
  std::size_t max_count = 1000;
  std::string key;
};

/// The store reader's answer: the field matching the request, or an error.
struct ReadReply {
  std::optional<Error> error;
  std::optional<Snapshot> snapshot;
  std::vector<Event> events;
  std::optional<IdempotencyRecord> key;
};

/// An aggregate's current state, for diagnostics.
struct AggregateView {
  std::int64_t version = 0;
  json::value state;
  std::optional<Error> error;
};

/// Events of one committed batch, in position order, shared by all receivers.
using CommittedEvents = std::shared_ptr<const std::vector<Event>>;

using AggregateTypePtr = std::shared_ptr<const AggregateType>;

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::CommandResult)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AppendRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AppendOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::StreamId)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::CommandEnvelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReadRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReadReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::AggregateView)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::CommittedEvents)
