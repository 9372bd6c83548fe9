#include "annals/actors/log_follower.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

namespace annals::actors {

namespace {

using poll_atom = caf::atom_constant<caf::atom("poll")>;

using clock = std::chrono::steady_clock;

// A follower on a notifying store wakes at least this often, so that it
// handles its exit message promptly (the wait blocks its thread).
constexpr std::chrono::milliseconds notice_slice{50};

struct FollowerState {
  std::unique_ptr<EventStore> store;
  EventBusActor bus;
  std::chrono::milliseconds interval{100};
  LoggerPtr log;
  std::int64_t announced = 0;  // the last head told to the bus
  bool failing = false;        // logged the current outage already
  clock::time_point next_check{};  // a notifying store's head is read at least this often
  static inline const char* name = "annals.log_follower";
};

using Self = caf::stateful_actor<FollowerState>*;

// After a failure: the interval, and at most a second on a notifying store
// (its interval may be long, the notices doing the work).
std::chrono::milliseconds retry_delay(const FollowerState& st) {
  return st.store->notifies() ? std::min(st.interval, std::chrono::milliseconds(1000)) : st.interval;
}

void report_failure(Self self, const std::exception& e) {
  auto& st = self->state;
  if (!st.failing && st.log)
    st.log->log(LogLevel::warn, "store.follow_failed",
                std::string("cannot check the store for other processes' events (retrying every ")
                  + std::to_string(retry_delay(st).count()) + " ms): " + e.what());
  st.failing = true;
}

// Reads the head and tells the bus when it moved; false on a store failure.
bool check_head(Self self) {
  auto& st = self->state;
  try {
    if (const auto head = st.store->polled_head(); head && *head > st.announced) {
      st.announced = *head;
      self->send(st.bus, head_atom::value, *head);
    }
  } catch (const std::exception& e) {
    report_failure(self, e);
    return false;
  }
  if (st.failing && st.log) st.log->log(LogLevel::info, "store.follow_resumed", "following the store's log again");
  st.failing = false;
  return true;
}

// SQLite: one cheap check per interval. PostgreSQL: woken by the commit
// notices at once, and the head read every interval as well, so a notice
// lost with a connection costs at most one interval.
void poll(Self self) {
  auto& st = self->state;
  if (!st.store->notifies()) {
    check_head(self);
    self->delayed_send(self, st.interval, poll_atom::value);
    return;
  }
  bool due = clock::now() >= st.next_check;
  if (!due) {
    try {
      due = st.store->await_commit_notice(std::min(st.interval, notice_slice));
    } catch (const std::exception& e) {
      report_failure(self, e);
      self->delayed_send(self, retry_delay(st), poll_atom::value);
      return;
    }
  }
  if (due) {
    st.next_check = clock::now() + st.interval;
    if (!check_head(self)) {
      self->delayed_send(self, retry_delay(st), poll_atom::value);
      return;
    }
  }
  self->send(self, poll_atom::value);
}

caf::behavior log_follower(Self self, std::shared_ptr<std::unique_ptr<EventStore>> store, EventBusActor bus,
                           std::chrono::milliseconds interval, LoggerPtr log) {
  auto& st = self->state;
  st.store = std::move(*store);
  st.bus = std::move(bus);
  st.interval = std::max(interval, std::chrono::milliseconds(1));
  st.log = std::move(log);
  self->send(self, poll_atom::value);
  return {
    [=](poll_atom) { poll(self); },
  };
}

} // namespace

caf::actor spawn_log_follower(caf::actor_system& sys, std::unique_ptr<EventStore> store, EventBusActor bus,
                              std::chrono::milliseconds interval, LoggerPtr log) {
  auto box = std::make_shared<std::unique_ptr<EventStore>>(std::move(store));
  return sys.spawn<caf::detached>(log_follower, box, std::move(bus), interval, std::move(log));
}

} // namespace annals::actors
