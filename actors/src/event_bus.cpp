#include "annals/actors/event_bus.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <algorithm>
#include <map>

namespace annals::actors {

namespace {

struct Subscriber {
  EventSubscriberActor handle;
  std::size_t unacked = 0;
  bool missed = false;  // batches were withheld: tell it the head on its next ack
};

struct BusState {
  std::size_t window = 64;
  std::int64_t head = 0;
  std::map<caf::actor_addr, Subscriber> subscribers;
  static inline const char* name = "annals.event_bus";
};

using Self = EventBusActor::stateful_pointer<BusState>;

// Sends `what` to each subscriber that has room in its window; the others
// are marked to be told the head on their next ack.
template <class... Ts>
void offer(Self self, const Ts&... what) {
  auto& st = self->state;
  for (auto& [addr, sub] : st.subscribers) {
    if (sub.unacked < st.window) {
      ++sub.unacked;
      self->send(sub.handle, what...);
    } else {
      sub.missed = true;
    }
  }
}

EventBusActor::behavior_type event_bus(Self self, std::size_t window) {
  self->state.window = window;
  self->set_down_handler([=](caf::down_msg& dm) { self->state.subscribers.erase(dm.source); });
  return {
    [=](committed_atom, const CommittedEvents& batch) {
      auto& st = self->state;
      if (batch->empty()) return;
      // max: the follower may have announced a later head first.
      st.head = std::max(st.head, batch->back().position);
      offer(self, committed_atom::value, batch);
    },
    [=](head_atom, std::int64_t head) {
      auto& st = self->state;
      if (head <= st.head) return;
      st.head = head;
      offer(self, head_atom::value, head);
    },
    [=](subscribe_atom, const EventSubscriberActor& who) {
      if (!who) return;
      self->monitor(who);
      self->state.subscribers[who.address()] = Subscriber{who, 0, false};
    },
    [=](ack_atom) {
      auto& st = self->state;
      auto it = st.subscribers.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (it == st.subscribers.end()) return;
      auto& sub = it->second;
      if (sub.unacked > 0) --sub.unacked;
      if (sub.missed && sub.unacked == 0) {
        sub.missed = false;
        ++sub.unacked;
        self->send(sub.handle, head_atom::value, st.head);
      }
    },
  };
}

} // namespace

EventBusActor spawn_event_bus(caf::actor_system& sys, std::size_t window) {
  return sys.spawn(event_bus, window);
}

} // namespace annals::actors
