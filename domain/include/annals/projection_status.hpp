#pragma once
// What the runtime reports about a projection: its status and the outcome of
// a reconciliation. Plain values, no CAF: the projection supervisor (actors/)
// answers with them and Runtime (annals/runtime.hpp) hands them to callers
// unchanged.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace annals {

/// What operators watch per projection.
struct ProjectionStatus {
  std::string name;
  bool running = false;         ///< false while its projector restarts
  std::int64_t checkpoint = 0;  ///< the last position applied
  std::int64_t head = 0;        ///< the store's last position
  std::int64_t backlog = 0;     ///< head - checkpoint
  std::int64_t restarts = 0;
  std::int64_t parked = 0;      ///< events in its dead-letter list
  std::int64_t queries_in_flight = 0;   ///< queries asked and not answered yet (also those waiting for a position)
  std::chrono::milliseconds backoff{0};  ///< the delay before its latest restart
  int snapshot_every = 0;       ///< it saves a read-model snapshot every N events (0: it keeps none)
  std::optional<std::string> last_error;
};

/// The outcome of reconcile_projection. `equal` compares the two read
/// models; both skip the events parked for the projection, so equal copies
/// still lack those: `parked` lists them.
struct Reconciliation {
  bool equal = false;
  std::int64_t position = 0;                 ///< the checkpoint both copies were compared at
  std::vector<std::string> differences;      ///< JSON paths that differ (at most 100)
  std::vector<std::int64_t> parked;          ///< positions up to `position` that both copies skipped (parked)
};

} // namespace annals
