#pragma once
// EventLog: the port for the durable, ordered log of events and the
// idempotency keys recorded with them. The journal appends (the single
// writer); the store readers, projectors' catch-up and tools read.
//
// Problems of a single append (stale version, payload too large, key reused)
// are not exceptions: they come back as that append's Error, and the other
// appends of the same batch still commit. Every backend applies the same
// rules with the same messages (persistence/src/detail/append_rules.hpp).

#include "annals/command_result.hpp"
#include "annals/event.hpp"
#include "annals/expected.hpp"
#include "annals/persistence/audit_trail.hpp"
#include "annals/persistence/shard_lease.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annals {

/// Events to append to one stream, as one unit.
struct AppendRequest {
  StreamId stream;
  std::int64_t expected_version = 0;  ///< the stream's version before these events
  std::vector<NewEvent> events;
  EventMetadata metadata;             ///< for every event; timestamp set at commit
  /// Recorded in the same transaction as the events, with the command's result.
  std::optional<std::string> idempotency_key;
  std::string fingerprint;            ///< Command::fingerprint(), compared on a repeat
  /// Written in the same transaction as the events (outcome "accepted",
  /// position filled in); not written when nothing is appended.
  std::optional<AuditRecord> audit;
  /// On a clustered node: the lease the writer holds on the stream's shard.
  /// The store checks it inside the append's transaction and refuses the
  /// append (not_owner, nothing written) when the lease has another owner or
  /// epoch or has expired. A store that cannot check leases (SQLite, memory)
  /// refuses every fenced append rather than ignore the fence.
  std::optional<ShardFence> fence;
};

struct AppendResult {
  std::vector<Event> events;          ///< as committed, with versions and positions
  std::int64_t version = 0;           ///< the stream's version afterwards
  /// Set when the idempotency key was already recorded for the same command:
  /// nothing was appended; this is the first result.
  std::optional<CommandResult> replay;

  /// The accepted result these events make (positions included).
  CommandResult to_result(const StreamId& s) const;
};

using AppendOutcome = Expected<AppendResult>;

/// An idempotency key as recorded with the events of the command that used
/// it first.
struct IdempotencyRecord {
  std::string key;
  StreamId stream;
  std::string fingerprint;
  CommandResult result;

  /// The rule for a command that comes with this key again: the first result
  /// (marked replayed) when its fingerprint is the same, otherwise
  /// idempotency_conflict. The stores apply it inside the append, the
  /// aggregate actor before deciding.
  Expected<CommandResult> replay_for(const std::string& fingerprint) const;
};

/// One stream's place in the log, for tools (`annals streams`).
struct StreamInfo {
  StreamId stream;
  std::int64_t version = 0;         ///< its current (last) version
  std::int64_t events = 0;          ///< how many events it holds
  std::int64_t first_position = 0;  ///< global position of its first event
  std::int64_t last_position = 0;   ///< global position of its last event
};

class EventLog {
public:
  virtual ~EventLog() = default;

  /// Appends a batch in one transaction (group commit). Outcome i belongs to
  /// batch[i]. A reused idempotency key gives `replay` (same fingerprint) or
  /// idempotency_conflict, a stale expected_version concurrency_conflict,
  /// data over the size limit payload_too_large, a fence that no longer
  /// holds not_owner; each fails alone. Throws
  /// StoreError if the transaction fails: then nothing of the batch is
  /// committed.
  virtual std::vector<AppendOutcome> append(const std::vector<AppendRequest>& batch) = 0;

  /// Events of one stream with version >= from_version, in version order.
  virtual std::vector<Event> read_stream(const StreamId& s, std::int64_t from_version,
                                         std::size_t max_count) = 0;
  /// Events of all streams with position >= from_position, in position order.
  virtual std::vector<Event> read_all(std::int64_t from_position, std::size_t max_count) = 0;
  /// The last committed global position (0 when empty).
  virtual std::int64_t head_position() = 0;
  /// head_position() for a follower that polls for other processes' commits
  /// (G9): nullopt when the log certainly has not changed since this
  /// connection's previous call, so an idle poll costs next to nothing
  /// (SQLite: PRAGMA data_version). The first call always reads the head.
  virtual std::optional<std::int64_t> polled_head() { return head_position(); }
  /// Whether this store tells a waiting follower about commits (PostgreSQL:
  /// LISTEN/NOTIFY, sent in each append transaction). A store that does not
  /// is polled with polled_head() at the follower's interval.
  virtual bool notifies() const { return false; }
  /// For a follower on a store that notifies(): waits up to `max_wait` for a
  /// notice that some session, in any process, committed events, and returns
  /// true when one came or may have been missed (a new session). Then read
  /// the head. Throws StoreError when the connection is lost (the next call
  /// reconnects). The default, for stores that do not notify, returns false
  /// at once.
  virtual bool await_commit_notice(std::chrono::milliseconds max_wait) {
    (void)max_wait;
    return false;
  }
  /// The stream's current version (0 when it has no events).
  virtual std::int64_t stream_version(const StreamId& s) = 0;

  virtual std::optional<IdempotencyRecord> find_idempotency_key(const std::string& key) = 0;

  /// Counts for tools and tests.
  virtual std::int64_t event_count() = 0;

  /// The streams that have events, ordered by aggregate type then id (byte
  /// order), of one aggregate type ("" for all), at most max_count of them,
  /// starting after `after` (exclusive; nullopt: from the first). Page by
  /// passing the last stream returned as the next `after`.
  virtual std::vector<StreamInfo> streams(const std::string& aggregate, const std::optional<StreamId>& after,
                                          std::size_t max_count) = 0;

  /// The aggregate types that have events, sorted (byte order). For tools.
  virtual std::vector<std::string> aggregate_types() = 0;
  /// The event types stored, sorted (byte order). For tools: it reads the
  /// whole log.
  virtual std::vector<std::string> event_types() = 0;
};

} // namespace annals
