#pragma once
// The faults injected into one projection (FaultInjector): the ApplyGate its
// supervisor hands to every projector it spawns, so a fault outlives a
// projector's restart. Created by the first injection into the projection;
// the runtime (any thread) changes it, the live projector consults it. No CAF.
//
// The normal path costs one atomic load (armed()); everything else is
// behind a mutex.

#include "annals/actors/apply_gate.hpp"
#include "annals/fault_injector.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace annals::detail {

class ProjectionFaults final : public actors::ApplyGate {
public:
  /// Anything set at all? (One atomic load.)
  bool armed() const { return armed_.load(std::memory_order_acquire); }

  /// The live projector fails on the next event matching `match` that it
  /// applies, `times` times (times <= 0 removes the fail fault). Replaces an
  /// earlier fail fault.
  void fail_on(EventMatch match, int times);
  /// Each event waits `per_event` before it is applied (0 removes the delay).
  void set_delay(std::chrono::milliseconds per_event);
  /// Removes both faults.
  void clear();

  /// ApplyGate: the injected delay.
  std::chrono::milliseconds pace() const override;

  /// ApplyGate: if the fail fault applies to `ev` — it is bound to this
  /// position, or not bound yet and `ev` matches (it then binds) — one
  /// failure is used up and the message to throw is returned.
  std::optional<std::string> failure(const Event& ev) override;

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

} // namespace annals::detail
