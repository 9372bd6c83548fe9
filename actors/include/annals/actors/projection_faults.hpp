#pragma once
// The faults injected into one projection (Runtime::fail_projection_on,
// delay_projection, clear_projection_faults). One object per projection,
// shared by the runtime (which sets faults from any thread), the supervisor
// and every projector it spawns, so a fault outlives a projector's restart.
// Only the live copy consults it: shadow copies (rebuild, reconcile) ignore
// faults. No CAF here.
//
// The normal path costs one atomic load (armed()); everything else is
// behind a mutex.

#include "annals/fault_injection.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace annals::actors {

class ProjectionFaults {
public:
  /// Anything set at all? (One relaxed-enough atomic load.)
  bool armed() const { return armed_.load(std::memory_order_acquire); }

  /// The live projector fails on the next event matching `match` that it
  /// applies, `times` times (times <= 0 removes the fail fault). Replaces an
  /// earlier fail fault.
  void fail_on(EventMatch match, int times);
  /// Each event waits `per_event` before it is applied (0 removes the delay).
  void set_delay(std::chrono::milliseconds per_event);
  /// Removes both faults.
  void clear();

  std::chrono::milliseconds delay() const;

  /// Called by the live copy before it applies `ev` (also for a retried
  /// parked event). If the fail fault applies to it — it is bound to this
  /// position, or not bound yet and `ev` matches (it then binds) — one
  /// failure is used up and the message to throw is returned.
  std::optional<std::string> take_failure(const Event& ev);

  /// Failures the fail fault has left (0 when there is none or it is used up).
  int failures_left() const;

private:
  struct Fail {
    EventMatch match;
    int times = 0;
    int left = 0;
    std::optional<std::int64_t> bound;  ///< the position it applies to, once known
  };
  void update_armed();  // with mtx_ held

  mutable std::mutex mtx_;
  std::atomic<bool> armed_{false};
  std::optional<Fail> fail_;
  std::chrono::milliseconds delay_{0};
};

using ProjectionFaultsPtr = std::shared_ptr<ProjectionFaults>;

} // namespace annals::actors
