#pragma once
// EventStore: the durable, ordered log of events, plus snapshots and
// idempotency keys. One EventStore object is one connection, used from one
// thread at a time; an EventStoreProvider opens as many as the runtime needs
// (one writer for the journal, one per reader thread).
//
// Every operation throws StoreError when the store itself fails. Problems of
// a single append (stale version, payload too large, key reused) are not
// exceptions: they come back as that append's Error, and the other appends of
// the same batch still commit.

#include "annals/command_result.hpp"
#include "annals/event.hpp"
#include "annals/expected.hpp"
#include "annals/persistence/store_error.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace annals {

/// One line of the command audit trail: what became of a command, who sent
/// it and when. The trail is append-only.
struct AuditRecord {
  std::int64_t id = 0;          ///< assigned by the store, increasing
  std::int64_t at_us = 0;       ///< set by the store when 0
  std::string principal;
  std::string correlation_id;
  std::string command_id;
  StreamId stream;
  std::string command;
  std::string outcome;          ///< accepted | replayed | rejected | denied | failed
  std::string code;             ///< the error code unless accepted
  std::string message;
  std::int64_t position = 0;    ///< the last event's position (accepted)
};

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

struct Snapshot {
  StreamId stream;
  std::int64_t version = 0;       ///< the stream version the state includes
  int snapshot_version = 1;       ///< the aggregate type's snapshot schema version
  json::value state;
  std::int64_t taken_at_us = 0;
};

struct IdempotencyRecord {
  std::string key;
  StreamId stream;
  std::string fingerprint;
  CommandResult result;
};

/// An event a projection could not apply K times: parked, then skipped.
struct DeadLetter {
  std::string projection;
  std::int64_t position = 0;
  StreamId stream;
  std::string event_type;
  std::string error;          ///< the last failure's message
  int attempts = 0;
  std::int64_t parked_at_us = 0;
};

/// A projection's read model saved together with its checkpoint (the last
/// position it includes), so a restart replays only what came after.
struct ProjectionSnapshot {
  std::string projection;
  std::int64_t position = 0;
  int snapshot_version = 1;
  json::value model;
  std::int64_t taken_at_us = 0;
};

/// One stream's place in the log, for tools (`annals streams`).
struct StreamInfo {
  StreamId stream;
  std::int64_t version = 0;         ///< its current (last) version
  std::int64_t events = 0;          ///< how many events it holds
  std::int64_t first_position = 0;  ///< global position of its first event
  std::int64_t last_position = 0;   ///< global position of its last event
};

class EventStore {
public:
  virtual ~EventStore() = default;

  /// Appends a batch in one transaction (group commit). Outcome i belongs to
  /// batch[i]. A stale expected_version gives concurrency_conflict, data over
  /// the size limit payload_too_large, a reused idempotency key with another
  /// fingerprint idempotency_conflict (same fingerprint: `replay`); each fails
  /// alone. Throws StoreError if the transaction fails: then nothing of the
  /// batch is committed.
  virtual std::vector<AppendOutcome> append(const std::vector<AppendRequest>& batch) = 0;

  /// Events of one stream with version >= from_version, in version order.
  virtual std::vector<Event> read_stream(const StreamId& s, std::int64_t from_version,
                                         std::size_t max_count) = 0;
  /// Events of all streams with position >= from_position, in position order.
  virtual std::vector<Event> read_all(std::int64_t from_position, std::size_t max_count) = 0;
  /// The last committed global position (0 when empty).
  virtual std::int64_t head_position() = 0;
  /// The stream's current version (0 when it has no events).
  virtual std::int64_t stream_version(const StreamId& s) = 0;

  virtual std::optional<Snapshot> load_snapshot(const StreamId& s) = 0;
  /// Keeps the newest snapshot per stream (an older one never replaces it).
  virtual void save_snapshot(const Snapshot& snap) = 0;

  virtual std::optional<IdempotencyRecord> find_idempotency_key(const std::string& key) = 0;

  /// Counts for tools and tests.
  virtual std::int64_t event_count() = 0;

  /// The streams that have events, ordered by aggregate type then id (byte
  /// order), of one aggregate type ("" for all), at most max_count of them,
  /// starting after `after` (exclusive; nullopt: from the first). Page by
  /// passing the last stream returned as the next `after`.
  virtual std::vector<StreamInfo> streams(const std::string& aggregate, const std::optional<StreamId>& after,
                                          std::size_t max_count) = 0;

  /// Parks an event for a projection (replaces an entry for the same
  /// projection and position).
  virtual void park_event(const DeadLetter& letter) = 0;
  /// Parked events of one projection ("" for all), by projection then position.
  virtual std::vector<DeadLetter> dead_letters(const std::string& projection) = 0;
  /// Removes one parked event; false when there was none.
  virtual bool remove_dead_letter(const std::string& projection, std::int64_t position) = 0;

  /// Appends audit records in one transaction.
  virtual void append_audit(const std::vector<AuditRecord>& records) = 0;
  /// Audit records with id >= from_id, oldest first.
  virtual std::vector<AuditRecord> audit_log(std::int64_t from_id, std::size_t max_count) = 0;

  virtual std::optional<ProjectionSnapshot> load_projection_snapshot(const std::string& projection) = 0;
  /// Keeps the newest per projection (a lower position never replaces a
  /// higher one of the same snapshot_version).
  virtual void save_projection_snapshot(const ProjectionSnapshot& snap) = 0;
};

/// Opens connections to one store.
class EventStoreProvider {
public:
  virtual ~EventStoreProvider() = default;
  /// A new connection. Throws StoreError (not a database, locked, ...).
  virtual std::unique_ptr<EventStore> connect() const = 0;
  /// "sqlite:/path/to/file.db" or "memory", for logs.
  virtual std::string describe() const = 0;
};

} // namespace annals
