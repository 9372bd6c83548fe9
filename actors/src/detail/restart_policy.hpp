#pragma once
// When a crashed projector starts again: after initial_backoff, then
// backoff_factor times longer each time up to max_backoff, and back to
// initial_backoff once a projector ran longer than reset_after. Pure: the
// caller passes the clock's readings. No CAF.

#include "annals/projection_options.hpp"

#include <chrono>

namespace annals::actors::detail {

class RestartPolicy {
public:
  using Clock = std::chrono::steady_clock;

  explicit RestartPolicy(const ProjectionOptions& options = {});

  /// A projector started at `now`.
  void started(Clock::time_point now) { started_at_ = now; }

  /// The projector that started last died at `now`: how long to wait before
  /// the next one starts (also what backoff() says from then on).
  std::chrono::milliseconds next_delay(Clock::time_point now);

  /// The delay before the latest restart (0 before the first).
  std::chrono::milliseconds backoff() const { return backoff_; }

private:
  std::chrono::milliseconds initial_;
  double factor_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds reset_after_;
  std::chrono::milliseconds backoff_{0};
  Clock::time_point started_at_{};
};

} // namespace annals::actors::detail
