#include "annals/actors/ordered_relay.hpp"

#include "annals/actors/delivery_error.hpp"

#include <caf/actor_system.hpp>
#include <caf/typed_event_based_actor.hpp>

namespace annals::actors {

namespace {

OrderedRelayActor::behavior_type ordered_relay(OrderedRelayActor::pointer self,
                                                 ActivationRegistryActor registry) {
  return {
    [=](CommandResult& early, ResultCallback& done) { (*done)(std::move(early)); },
    [=](execute_atom, RegisteredAggregatePtr& type, CommandEnvelope& env, ResultCallback& done) {
      const StreamId stream = env.command.stream();
      auto left = env.deadline - std::chrono::steady_clock::now();
      auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(left);
      if (timeout.count() < 1) timeout = std::chrono::milliseconds(1);
      self->request(registry, timeout, execute_atom::value, std::move(type), std::move(env))
        .then([=](CommandResult& r) { (*done)(std::move(r)); },
              [=](caf::error& err) { (*done)(CommandResult::fail(stream, delivery_error(self->system(), err))); });
    },
  };
}

} // namespace

OrderedRelayActor spawn_ordered_relay(caf::actor_system& sys, ActivationRegistryActor registry) {
  return sys.spawn(ordered_relay, std::move(registry));
}

} // namespace annals::actors
