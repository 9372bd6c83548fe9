#pragma once
// The projector's accepted events, waiting to be applied, and the pacing
// timer that releases them one by one while an ApplyGate sets a pace. Without
// a pace the queue is drained as soon as events arrive. No CAF: the projector
// sends the timer messages; this only numbers them (a delayed message cannot
// be cancelled in CAF 0.17, so a stale one is recognised by its number).

#include "annals/actors/event_bus.hpp"

#include <chrono>
#include <cstdint>
#include <deque>

namespace annals::actors::detail {

// An accepted event, still in the batch it came in (live batches are shared
// with other projectors; nothing is copied).
struct Queued {
  CommittedEvents batch;
  std::size_t index = 0;
  const Event& event() const { return (*batch)[index]; }
};

class ApplyQueue {
public:
  bool empty() const { return events_.empty(); }
  std::size_t size() const { return events_.size(); }
  void push(Queued q) { events_.push_back(std::move(q)); }
  Queued pop() {
    Queued q = std::move(events_.front());
    events_.pop_front();
    return q;
  }
  /// The last position accepted: queued, or else `applied`.
  std::int64_t accepted(std::int64_t applied) const {
    return events_.empty() ? applied : events_.back().event().position;
  }

  /// A timer for `pace` is wanted: the number to send with it, or 0 when one
  /// is already running.
  std::uint64_t arm(std::chrono::milliseconds pace) {
    if (timer_) return 0;
    timer_ = ++timers_;
    pace_ = pace;
    return timer_;
  }
  /// The timer numbered `n` fired: true if it is the running one (it stops).
  bool fired(std::uint64_t n) {
    if (n != timer_) return false;
    timer_ = 0;
    return true;
  }
  /// The pace changed to `pace`: true if the running timer (if any) no
  /// longer fits and the queue must be drained anew (the old timer is then
  /// forgotten).
  bool repace(std::chrono::milliseconds pace) {
    if (timer_ && pace == pace_) return false;
    timer_ = 0;
    return true;
  }

private:
  std::deque<Queued> events_;
  std::uint64_t timer_ = 0;   // the running timer's number (0: none)
  std::uint64_t timers_ = 0;
  std::chrono::milliseconds pace_{0};
};

} // namespace annals::actors::detail
