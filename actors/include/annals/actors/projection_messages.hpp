#pragma once
// Messages on the read side: the event bus, projectors and their
// supervisors. Local only (see messages.hpp).

#include "annals/actors/messages.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

namespace annals::actors {

using committed_atom = caf::atom_constant<caf::atom("committed")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using ack_atom = caf::atom_constant<caf::atom("ack")>;
using head_atom = caf::atom_constant<caf::atom("head")>;
using query_atom = caf::atom_constant<caf::atom("query")>;
using failed_atom = caf::atom_constant<caf::atom("failed")>;
using retry_atom = caf::atom_constant<caf::atom("retry")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;
using dump_atom = caf::atom_constant<caf::atom("dump")>;
using ready_atom = caf::atom_constant<caf::atom("ready")>;
using rebuild_atom = caf::atom_constant<caf::atom("rebuild")>;
using reconcile_atom = caf::atom_constant<caf::atom("reconcile")>;
using faults_atom = caf::atom_constant<caf::atom("faults")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;

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

/// Events of one committed batch, in position order, shared by all receivers.
using CommittedEvents = std::shared_ptr<const std::vector<Event>>;

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::CommittedEvents)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::QueryRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::QueryReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ProjectionInfo)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ModelDump)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReconcileReport)
