#pragma once
// The messages the actors exchange. Local only: they carry JSON values and
// are never serialized, so they are allowed as "unsafe" message types.
// Included only by actors/ and the runtime facade's .cpp.

#include "annals/aggregate_type.hpp"
#include "annals/command.hpp"
#include "annals/command_result.hpp"
#include "annals/persistence/event_store.hpp"
#include "annals/log.hpp"
#include "annals/upcasters.hpp"

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
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using head_atom = caf::atom_constant<caf::atom("head")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using park_atom = caf::atom_constant<caf::atom("park")>;
using unpark_atom = caf::atom_constant<caf::atom("unpark")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using dump_atom = caf::atom_constant<caf::atom("dump")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using rebuild_atom = caf::atom_constant<caf::atom("rebuild")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using audit_atom = caf::atom_constant<caf::atom("audit")>;
using faults_atom = caf::atom_constant<caf::atom("faults")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;

using Deadline = std::chrono::steady_clock::time_point;

/// A command on its way to its aggregate, with the time after which nobody
/// waits for the answer any more (the aggregate then skips it).
struct CommandEnvelope {
  Command command;
  Deadline deadline;
};

/// What the store reader is asked for.
struct ReadRequest {
  enum class Kind { snapshot, stream, idempotency_key, all, dead_letters, projection_snapshot } kind = Kind::stream;
  StreamId stream;
  std::int64_t from_version = 1;   ///< also the from_position of Kind::all
  std::string projection;
  std::size_t max_count = 1000;
  std::string key;
};

/// The store reader's answer: the field matching the request, or an error.
struct ReadReply {
  std::optional<Error> error;
  std::optional<Snapshot> snapshot;
  std::vector<Event> events;
  std::optional<IdempotencyRecord> key;
  std::vector<DeadLetter> dead_letters;
  std::optional<ProjectionSnapshot> projection_snapshot;
};

/// The answer to a write that is not an append (park, unpark).
struct StoreAck {
  std::optional<Error> error;
};

/// A query on its way to a projection.
struct QueryRequest {
  std::string name;
  json::object args;
  std::int64_t min_position = 0;   ///< answer only once this position is applied
  Deadline deadline;
};

struct QueryReply {
  std::optional<Error> error;
  json::value value;
  std::int64_t position = 0;       ///< the projection's checkpoint when it answered
};

/// A projection's whole read model at a checkpoint.
struct ModelDump {
  json::value model;
  std::int64_t position = 0;
};

/// The outcome of comparing a fresh copy with the live read model.
struct ReconcileReport {
  std::optional<Error> error;
  std::int64_t position = 0;
  std::vector<std::string> differences;
};

/// What a supervisor knows about its projection.
struct ProjectionInfo {
  std::string name;
  bool running = false;
  std::int64_t checkpoint = 0;
  std::int64_t restarts = 0;
  std::int64_t parked = 0;
  std::chrono::milliseconds backoff{0};  ///< the delay before the latest restart
  std::optional<std::string> last_error;
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
using UpcastersPtr = std::shared_ptr<const Upcasters>;

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
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::StoreAck)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::QueryRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::QueryReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ProjectionInfo)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ModelDump)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReconcileReport)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::DeadLetter)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AuditRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::ProjectionSnapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Event)
