#pragma once
// Waiting on a condition with a deadline: the one way tests synchronise with
// actors, timers and other processes (never a bare sleep "long enough").

#include <chrono>
#include <functional>
#include <thread>

namespace annals::test {

/// Polls `done` until it holds or `limit` passes; whether it held (checked
/// once more at the deadline). The poll interval only bounds how late the
/// wait notices; it never decides whether the test passes.
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(20),
                       std::chrono::milliseconds poll = std::chrono::milliseconds(5)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(poll);
  }
  return done();
}

} // namespace annals::test
