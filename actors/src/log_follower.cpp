#include "annals/actors/log_follower.hpp"

#include <caf/actor_system.hpp>
#include <caf/atom.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <exception>
#include <utility>

namespace annals::actors {

namespace {

using poll_atom = caf::atom_constant<caf::atom("poll")>;

struct FollowerState {
  std::unique_ptr<EventStore> store;
  EventBusActor bus;
  std::chrono::milliseconds interval{100};
  LoggerPtr log;
  std::int64_t announced = 0;  // the last head told to the bus
  bool failing = false;        // logged the current outage already
  static inline const char* name = "annals.log_follower";
};

using Self = caf::stateful_actor<FollowerState>*;

void poll(Self self) {
  auto& st = self->state;
  try {
    if (const auto head = st.store->polled_head(); head && *head > st.announced) {
      st.announced = *head;
      self->send(st.bus, head_atom::value, *head);
    }
    if (st.failing && st.log) st.log->log(LogLevel::info, "store.follow_resumed", "following the store's log again");
    st.failing = false;
  } catch (const std::exception& e) {
    if (!st.failing && st.log)
      st.log->log(LogLevel::warn, "store.follow_failed",
                  std::string("cannot check the store for other processes' events (retrying every ")
                    + std::to_string(st.interval.count()) + " ms): " + e.what());
    st.failing = true;
  }
  self->delayed_send(self, st.interval, poll_atom::value);
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
