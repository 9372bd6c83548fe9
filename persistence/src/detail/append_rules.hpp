#pragma once
// The rules of one append, written once for every backend (SQLite, memory,
// and the next ones): what is checked, in which order, and the messages of
// the errors (tests and callers compare them). A backend runs check_append
// inside its transaction, writes what it allows, and builds the events and
// records with the helpers below. Internal to annals::persistence.

#include "annals/persistence/event_log.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace annals::append_rules {

/// An append the rules let through: the backend writes its events.
struct CheckedAppend {
  std::int64_t current_version = 0;  ///< the stream's version before the events
  std::vector<std::string> bodies;   ///< each event's data as serialized (and measured) JSON
};

/// What the rules say about one append: its outcome when that is already
/// decided (a replay of the first result, or an error), else what to write.
struct AppendVerdict {
  std::optional<AppendOutcome> decided;
  CheckedAppend checked;
};

/// A recorded key's outcome: the first result as a replay, or the record's
/// idempotency_conflict (IdempotencyRecord::replay_for).
AppendOutcome replay_or_conflict(const IdempotencyRecord& recorded, const std::string& fingerprint);

/// concurrency_conflict when the stream is not at the expected version.
std::optional<Error> version_conflict(const AppendRequest& req, std::int64_t current);

/// Each event's data serialized, or the first event's error: a NaN or
/// infinite number (internal_error: JSON cannot store it), or data larger
/// than max_event_bytes (payload_too_large).
Expected<std::vector<std::string>> checked_bodies(const AppendRequest& req, std::size_t max_event_bytes);

/// The rules in their order: a recorded idempotency key decides first (so a
/// repeat with a now stale expected_version still replays), then the
/// expected version, then each event's data. `find_key(key)` gives the
/// recorded key (std::optional<IdempotencyRecord>), `version_of(stream)` the
/// stream's current version; both read inside the backend's transaction.
template <class FindKey, class VersionOf>
AppendVerdict check_append(const AppendRequest& req, std::size_t max_event_bytes, FindKey&& find_key,
                           VersionOf&& version_of) {
  if (req.idempotency_key) {
    if (std::optional<IdempotencyRecord> recorded = find_key(*req.idempotency_key))
      return {replay_or_conflict(*recorded, req.fingerprint), {}};
  }
  const std::int64_t current = version_of(req.stream);
  if (auto err = version_conflict(req, current)) return {AppendOutcome{std::move(*err)}, {}};
  auto bodies = checked_bodies(req, max_event_bytes);
  if (!bodies) return {AppendOutcome{bodies.error()}, {}};
  return {std::nullopt, CheckedAppend{current, std::move(*bodies)}};
}

/// The metadata every event of the append is stored with: the request's,
/// stamped with the commit time.
EventMetadata commit_metadata(const AppendRequest& req, std::int64_t now_us);

/// The event as committed: the request's i-th event at `version` and
/// `position`, with `metadata` from commit_metadata, and its data parsed from
/// `body` (its checked body), so it has the number kinds a read gives.
Event committed_event(const AppendRequest& req, std::size_t i, const std::string& body, std::int64_t version,
                      std::int64_t position, const EventMetadata& metadata);

/// The audit line written with an accepted append's events.
AuditRecord accepted_audit(const AuditRecord& skeleton, const AppendResult& result, std::int64_t now_us);

/// The key's record, written in the events' transaction.
IdempotencyRecord key_record(const AppendRequest& req, const AppendResult& result);

/// not_owner for an append whose fence the store found not to hold (another
/// owner or epoch, or expired): nothing of it was written.
Error not_owner(const AppendRequest& req);

/// The refusal of a fenced append by a store that cannot check leases.
Error unchecked_fence(const AppendRequest& req);

/// concurrency_conflict for a write that a unique (stream, version)
/// constraint refused: another writer appended between check and insert.
Error changed_during_append(const StreamId& stream, const std::string& cause);

} // namespace annals::append_rules
