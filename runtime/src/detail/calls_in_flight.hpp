#pragma once
// Calls in flight: every call that waits for an actor holds a ticket, so
// that shutdown waits for them (a scoped_actor still alive while the actor
// system is destroyed would hang it) and refuses new ones. No CAF here.

#include "annals/error.hpp"

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>

namespace annals::detail {

inline Error shutting_down_error() { return Error{errc::shutting_down, "the runtime is shutting down"}; }

class CallsInFlight {
public:
  /// Held while a call is in flight; released when destroyed, or earlier.
  class Ticket {
  public:
    Ticket(Ticket&& other) noexcept : calls_(std::exchange(other.calls_, nullptr)) {}
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() { release(); }
    void release() {
      if (calls_) std::exchange(calls_, nullptr)->leave();
    }

  private:
    friend class CallsInFlight;
    explicit Ticket(CallsInFlight* calls) : calls_(calls) {}
    CallsInFlight* calls_;
  };

  /// A ticket, or nothing once the runtime is stopping.
  std::optional<Ticket> enter() {
    std::lock_guard<std::mutex> lock(mtx_);
    if (stopping_) return std::nullopt;
    ++in_flight_;
    return Ticket(this);
  }

  /// Refuses new calls from now on.
  void refuse_new() {
    std::lock_guard<std::mutex> lock(mtx_);
    stopping_ = true;
  }

  bool stopping() const {
    std::lock_guard<std::mutex> lock(mtx_);
    return stopping_;
  }

  /// Waits until no call is in flight. Unbounded on purpose: every call has
  /// a deadline of its own, and destroying the actor system under a call
  /// still in flight crashes it. `still_waiting(n)` runs every `every` that
  /// `n` calls are still in flight (for a log line an operator can act on).
  template <class F>
  void wait_all(std::chrono::milliseconds every, F still_waiting) {
    std::unique_lock<std::mutex> lock(mtx_);
    while (!cv_.wait_for(lock, every, [&] { return in_flight_ == 0; })) {
      const std::size_t n = in_flight_;
      lock.unlock();
      still_waiting(n);
      lock.lock();
    }
  }

private:
  void leave() {
    std::lock_guard<std::mutex> lock(mtx_);
    if (--in_flight_ == 0) cv_.notify_all();
  }

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
};

} // namespace annals::detail
