#include "restart_policy.hpp"

#include <algorithm>
#include <cstdint>

namespace annals::actors::detail {

RestartPolicy::RestartPolicy(const ProjectionOptions& options)
  : initial_(options.initial_backoff), factor_(options.backoff_factor), max_(options.max_backoff),
    reset_after_(options.reset_after) {}

std::chrono::milliseconds RestartPolicy::next_delay(Clock::time_point now) {
  if (now - started_at_ > reset_after_) backoff_ = {};  // it had been stable: start over
  if (backoff_.count() == 0)
    backoff_ = initial_;
  else
    backoff_ = std::min(max_, std::chrono::milliseconds(static_cast<std::int64_t>(
                                static_cast<double>(backoff_.count()) * factor_)));
  return backoff_;
}

} // namespace annals::actors::detail
