#include "projection_faults.hpp"

#include <algorithm>

namespace annals::detail {

void ProjectionFaults::update_armed() {
  armed_.store((fail_ && fail_->left > 0) || delay_.count() > 0, std::memory_order_release);
}

void ProjectionFaults::fail_on(EventMatch match, int times) {
  std::lock_guard<std::mutex> lock(mtx_);
  if (times <= 0) fail_.reset();
  else fail_ = Fail{std::move(match), times, times, std::nullopt};
  update_armed();
}

void ProjectionFaults::set_delay(std::chrono::milliseconds per_event) {
  std::lock_guard<std::mutex> lock(mtx_);
  delay_ = std::max(per_event, std::chrono::milliseconds(0));
  update_armed();
}

void ProjectionFaults::clear() {
  std::lock_guard<std::mutex> lock(mtx_);
  fail_.reset();
  delay_ = std::chrono::milliseconds(0);
  update_armed();
}

std::chrono::milliseconds ProjectionFaults::pace() const {
  if (!armed()) return std::chrono::milliseconds(0);
  std::lock_guard<std::mutex> lock(mtx_);
  return delay_;
}

std::optional<std::string> ProjectionFaults::failure(const Event& ev) {
  if (!armed()) return std::nullopt;
  std::lock_guard<std::mutex> lock(mtx_);
  if (!fail_ || fail_->left <= 0) return std::nullopt;
  if (fail_->bound ? *fail_->bound != ev.position : !fail_->match.matches(ev)) return std::nullopt;
  fail_->bound = ev.position;
  const int attempt = fail_->times - fail_->left + 1;
  --fail_->left;
  std::string msg = "injected failure " + std::to_string(attempt) + " of " + std::to_string(fail_->times)
                    + " on event " + std::to_string(ev.position) + " (" + ev.stream.to_string() + " " + ev.type + ")";
  update_armed();
  return msg;
}

} // namespace annals::detail
