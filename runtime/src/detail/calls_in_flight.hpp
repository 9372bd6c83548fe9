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

  /// Refuses new calls from now on and waits, at most `limit`, for the
  /// calls in flight to finish.
  void stop_and_wait(std::chrono::milliseconds limit) {
    std::unique_lock<std::mutex> lock(mtx_);
    stopping_ = true;
    cv_.wait_for(lock, limit, [&] { return in_flight_ == 0; });
  }

private:
  void leave() {
    std::lock_guard<std::mutex> lock(mtx_);
    if (--in_flight_ == 0) cv_.notify_all();
  }

  std::mutex mtx_;
  std::condition_variable cv_;
  std::size_t in_flight_ = 0;
  bool stopping_ = false;
};

} // namespace annals::detail
