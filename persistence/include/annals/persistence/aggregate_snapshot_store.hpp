#pragma once
// AggregateSnapshotStore: the port for aggregate snapshots, a shortcut for
// recovery (the state at a stream version, so only later events are read).
// The store readers load them, the journal saves them after its batches.
// A snapshot is an optimisation: losing one costs a longer recovery only.

#include "annals/event.hpp"
#include "annals/json.hpp"

#include <cstdint>
#include <optional>

namespace annals {

struct Snapshot {
  StreamId stream;
  std::int64_t version = 0;       ///< the stream version the state includes
  int snapshot_version = 1;       ///< the aggregate type's snapshot schema version
  json::value state;
  std::int64_t taken_at_us = 0;
};

class AggregateSnapshotStore {
public:
  virtual ~AggregateSnapshotStore() = default;

  virtual std::optional<Snapshot> load_snapshot(const StreamId& s) = 0;
  /// Keeps the newest snapshot per stream (an older one of the same
  /// snapshot_version never replaces it).
  virtual void save_snapshot(const Snapshot& snap) = 0;
};

} // namespace annals
