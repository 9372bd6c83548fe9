// The read side's pure parts: the restart policy (backoff growth,
// cap, reset after a stable period) and the failure ledger (parking after
// max_attempts) of the supervisor, and the projector's apply queue (pacing
// timers). No actors, no clock: the tests pass the time.
#include "detail/apply_queue.hpp"
#include "detail/failure_ledger.hpp"
#include "detail/restart_policy.hpp"

#include <catch2/catch.hpp>

using namespace annals;
using namespace annals::actors::detail;
using namespace std::chrono_literals;

namespace {

ProjectionOptions backoff(std::chrono::milliseconds initial, double factor, std::chrono::milliseconds max,
                          std::chrono::milliseconds reset_after) {
  ProjectionOptions o;
  o.initial_backoff = initial;
  o.backoff_factor = factor;
  o.max_backoff = max;
  o.reset_after = reset_after;
  return o;
}

} // namespace

TEST_CASE("restart policy: the backoff starts at initial, grows by the factor and stops at the cap") {
  RestartPolicy policy(backoff(50ms, 2.0, 300ms, 30s));
  const auto t0 = RestartPolicy::Clock::time_point{} + 1h;
  CHECK(policy.backoff() == 0ms);
  policy.started(t0);
  CHECK(policy.next_delay(t0 + 1ms) == 50ms);
  policy.started(t0 + 60ms);
  CHECK(policy.next_delay(t0 + 61ms) == 100ms);
  policy.started(t0 + 200ms);
  CHECK(policy.next_delay(t0 + 201ms) == 200ms);
  policy.started(t0 + 500ms);
  CHECK(policy.next_delay(t0 + 501ms) == 300ms);  // 400 capped
  CHECK(policy.next_delay(t0 + 502ms) == 300ms);
  CHECK(policy.backoff() == 300ms);
}

TEST_CASE("restart policy: a projector that ran longer than reset_after restarts after the initial backoff again") {
  RestartPolicy policy(backoff(10ms, 3.0, 1s, 100ms));
  const auto t0 = RestartPolicy::Clock::time_point{} + 1h;
  policy.started(t0);
  CHECK(policy.next_delay(t0) == 10ms);
  policy.started(t0 + 10ms);
  CHECK(policy.next_delay(t0 + 20ms) == 30ms);
  policy.started(t0 + 50ms);
  CHECK(policy.next_delay(t0 + 50ms + 101ms) == 10ms);  // it had been stable
}

TEST_CASE("failure ledger: an event is due for parking at max_attempts and skipped once parked") {
  FailureLedger ledger(3);
  CHECK(ledger.record_failure(7) == 1);
  CHECK_FALSE(ledger.due(7));
  CHECK(ledger.record_failure(7) == 2);
  CHECK(ledger.record_failure(9) == 1);  // counted per position
  CHECK_FALSE(ledger.due(7));
  CHECK(ledger.record_failure(7) == 3);
  CHECK(ledger.due(7));
  CHECK_FALSE(ledger.is_parked(7));  // only once the store has written it
  ledger.mark_parked(7);
  CHECK(ledger.is_parked(7));
  CHECK_FALSE(ledger.due(7));
  CHECK(ledger.parked().size() == 1);
  ledger.unpark(7);
  CHECK_FALSE(ledger.is_parked(7));
}

TEST_CASE("failure ledger: max_attempts below 1 parks at the first failure") {
  FailureLedger ledger(0);
  ledger.record_failure(1);
  CHECK(ledger.due(1));
}

TEST_CASE("apply queue: one pacing timer at a time, stale timers recognised by their number") {
  auto batch = std::make_shared<const std::vector<Event>>(std::vector<Event>(3));
  ApplyQueue q;
  CHECK(q.accepted(5) == 5);  // nothing queued: the checkpoint
  const auto first = q.arm(10ms);
  CHECK(first != 0);
  CHECK(q.arm(10ms) == 0);     // already running
  CHECK_FALSE(q.repace(10ms)); // the same pace: keep the timer
  CHECK(q.repace(20ms));       // a new pace: drain anew, the old timer is stale
  CHECK_FALSE(q.fired(first));
  const auto second = q.arm(20ms);
  CHECK(second != first);
  CHECK(q.fired(second));
  CHECK_FALSE(q.fired(second));  // once
  q.push(Queued{batch, 0});
  CHECK(q.size() == 1);
  CHECK(q.pop().index == 0);
  CHECK(q.empty());
}
