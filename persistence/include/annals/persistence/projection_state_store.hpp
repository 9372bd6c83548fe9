#pragma once
// ProjectionStateStore: the port for what projections keep beside the event
// log: read-model snapshots with their checkpoints, and dead letters (events
// a projection parked after failing on them K times). The journal writes it,
// the store readers and tools read it.

#include "annals/event.hpp"
#include "annals/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annals {

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

class ProjectionStateStore {
public:
  virtual ~ProjectionStateStore() = default;

  /// Parks an event for a projection (replaces an entry for the same
  /// projection and position).
  virtual void park_event(const DeadLetter& letter) = 0;
  /// Parked events of one projection ("" for all), by projection then position.
  virtual std::vector<DeadLetter> dead_letters(const std::string& projection) = 0;
  /// Removes one parked event; false when there was none.
  virtual bool remove_dead_letter(const std::string& projection, std::int64_t position) = 0;
  /// A retried event was applied late (the projection had passed it): in one
  /// transaction, removes it from the dead letters and, if `snapshot` is
  /// given, replaces the projection's snapshot with it whatever the stored
  /// one's position (only this one includes the event). A crash leaves either
  /// both or neither. False, and nothing written, when it was not parked.
  virtual bool unpark_retried(const std::string& projection, std::int64_t position,
                              const std::optional<ProjectionSnapshot>& snapshot) = 0;

  virtual std::optional<ProjectionSnapshot> load_projection_snapshot(const std::string& projection) = 0;
  /// Keeps the newest per projection (a lower position never replaces a
  /// higher one of the same snapshot_version).
  virtual void save_projection_snapshot(const ProjectionSnapshot& snap) = 0;
};

} // namespace annals
