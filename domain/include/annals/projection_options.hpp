#pragma once
// Supervision and delivery settings shared by all projections: a field of
// RuntimeOptions (annals/runtime_options.hpp), handed as is to every
// projection supervisor. No CAF.

#include <chrono>
#include <cstddef>

namespace annals {

/// Supervision and delivery settings shared by all projections.
struct ProjectionOptions {
  /// A crashed projector restarts after initial_backoff, then factor times
  /// longer each time up to max_backoff; back to initial after reset_after
  /// of stable running.
  std::chrono::milliseconds initial_backoff{50};
  double backoff_factor = 2.0;
  std::chrono::milliseconds max_backoff{std::chrono::seconds(5)};
  std::chrono::milliseconds reset_after{std::chrono::seconds(30)};
  /// The same event failing this many times is parked (dead letter) and skipped.
  int max_attempts = 3;
  /// Events read from the store per catch-up step.
  std::size_t catch_up_batch = 500;
  /// Committed batches in flight to one projector before the bus holds back
  /// and lets it catch up from the store (bounds memory for slow projectors).
  std::size_t bus_window = 64;
  /// How long a query waits (for min_position, or for a restarting projector).
  std::chrono::milliseconds query_timeout{std::chrono::seconds(5)};
  /// How often the runtime looks for events that other processes committed
  /// to the store (G9: projections follow every writer of a shared store).
  /// An idle check is one cheap query. PostgreSQL's commit notices wake the
  /// runtime at once; there this check only catches a notice lost with a
  /// connection. 0 turns following off, for a store that only this process
  /// writes.
  std::chrono::milliseconds follow_interval{100};
};

} // namespace annals
