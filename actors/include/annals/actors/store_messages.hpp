#pragma once
// Messages to and from the store-facing actors: the journal (the single
// writer) and the store readers. Local only (see messages.hpp).

#include "annals/actors/messages.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

namespace annals::actors {

using read_atom = caf::atom_constant<caf::atom("read")>;
using append_atom = caf::atom_constant<caf::atom("append")>;
using flush_atom = caf::atom_constant<caf::atom("flush")>;
using snapshot_atom = caf::atom_constant<caf::atom("snapshot")>;
using park_atom = caf::atom_constant<caf::atom("park")>;
using unpark_atom = caf::atom_constant<caf::atom("unpark")>;
using audit_atom = caf::atom_constant<caf::atom("audit")>;

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

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AppendRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AppendOutcome)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::DeadLetter)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::AuditRecord)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::ProjectionSnapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReadRequest)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::ReadReply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::StoreAck)
