#pragma once
// The aggregate actor: one per active aggregate instance. It recovers its
// state (snapshot, then later events), then handles commands one at a time in
// arrival order: idempotency check, decide, append through the journal,
// evolve, reply. Commands that arrive meanwhile wait in its queue.
// When idle for `passivate_after` (or when the registry evicts it to stay
// under max_active_aggregates) it asks the activation registry to let it go,
// saying how many requests it received; the registry agrees only when that is
// every request it sent, so no command is on its way and none can reach a
// second actor of the stream while this one stops (exactly one live actor
// per stream).

#include "annals/actors/journal.hpp"
#include "annals/actors/messages.hpp"
#include "annals/actors/registered_aggregate.hpp"
#include "annals/actors/store_reader.hpp"
#include "annals/aggregate_inspection.hpp"

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace annals::actors {

using execute_atom = caf::atom_constant<caf::atom("execute")>;
using inspect_atom = caf::atom_constant<caf::atom("inspect")>;
using passivate_atom = caf::atom_constant<caf::atom("passivate")>;
using evict_atom = caf::atom_constant<caf::atom("evict")>;
using reload_atom = caf::atom_constant<caf::atom("reload")>;

/// A command on its way to its aggregate, with the time after which nobody
/// waits for the answer any more (the aggregate then skips it).
struct CommandEnvelope {
  Command command;
  /// The command's audit record, built by the runtime's audit stage; when
  /// set, the aggregate hands it to the journal with the command's events
  /// (as it is: the store fills in outcome, time and position at commit).
  std::optional<AuditRecord> audit;
  Deadline deadline;
};

/// The aggregate actor's interface.
using AggregateActor = caf::typed_actor<
  caf::replies_to<execute_atom, CommandEnvelope>::with<CommandResult>,
  // its state (or the error of a broken one), answered once recovered
  caf::replies_to<inspect_atom>::with<Expected<AggregateInspection>>,
  // from the registry: passivate as soon as idle (too many are active)
  caf::reacts_to<evict_atom>,
  // internal, to itself: a conflict's pause is over, reload and decide again
  caf::reacts_to<reload_atom, std::uint64_t>>;

/// What an aggregate asks of the registry that activated it: to stop, given
/// the number of requests (commands, inspections) it has received. True: none
/// is on its way and none will be sent; false: some are, stay.
using PassivationActor = caf::typed_actor<caf::replies_to<passivate_atom, std::uint64_t>::with<bool>>;

struct AggregateSettings {
  std::chrono::milliseconds passivate_after{std::chrono::minutes(5)};
  /// Bounds each request to the journal and the store reader.
  std::chrono::milliseconds store_timeout{std::chrono::seconds(30)};
  /// Bounds the request to the activation registry to be forgotten.
  std::chrono::milliseconds registry_timeout{std::chrono::seconds(30)};
  std::size_t max_queued_commands = 10000;
  std::size_t recovery_batch = 1000;
  /// Another writer appended to the stream first (another process on the
  /// same store): reload the stream and decide again, at most this often,
  /// waiting a jittered, doubling pause from `conflict_backoff` up to 64
  /// times that before each retry after the first.
  int conflict_retries = 10;
  std::chrono::milliseconds conflict_backoff{1};
};

struct AggregateDeps {
  JournalActor journal;
  StoreReaderActor reader;
  PassivationActor registry;
  UpcastersPtr upcasters;  ///< stored events are brought to the current schema before evolve
  AggregateInstruments instruments;
  LoggerPtr log;
  /// On a clustered node: the shards this node holds. Each append carries
  /// the fence of the stream's shard; without one (the shard is not held)
  /// or when the store refuses it, the command fails with not_owner and the
  /// actor stops (G8). Null on a single node.
  std::shared_ptr<const ShardOwnership> ownership;
};

AggregateActor spawn_aggregate(caf::local_actor* parent, StreamId stream, AggregateTypePtr type,
                                AggregateDeps deps, AggregateSettings settings);

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::CommandResult)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::actors::CommandEnvelope)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Expected<annals::AggregateInspection>)
