#pragma once
// ApplyGate: the one seam through which something outside the projector can
// hold back or fail the live copy's applies. Fault injection
// (annals::FaultInjector) is its only user; in production no gate is
// installed (the pointer stays null) and the projector applies events as
// they come.
//
// Why a gate and not a decorated ProjectionType plus a pacing actor in front
// of the projector: a delay must hold back events from the bus *and* from the
// projector's own catch-up reads while queries keep being answered, and a
// rebuilt copy must become subject to faults the moment it replaces the live
// one. A stage outside the actor would have to relay catch-up reads and
// queries and learn which copy is live; a gate asked by the projector at the
// two points that matter (before an apply, and how long to wait before the
// next) keeps one actor and one order of events. No CAF here.

#include "annals/event.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace annals::actors {

class ApplyGate {
public:
  virtual ~ApplyGate() = default;

  /// How long the live copy waits before it applies its next event (0: at
  /// once). Asked before every apply; whoever changes it tells the
  /// projector's supervisor (pace_atom), so that waiting events are
  /// rescheduled.
  virtual std::chrono::milliseconds pace() const = 0;

  /// Asked just before the live copy applies `ev` (also a retried parked
  /// event): a message means the apply fails as if the projection's handler
  /// had thrown it.
  virtual std::optional<std::string> failure(const Event& ev) = 0;
};

using ApplyGatePtr = std::shared_ptr<ApplyGate>;

} // namespace annals::actors
