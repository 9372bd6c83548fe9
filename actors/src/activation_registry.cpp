#include "annals/actors/activation_registry.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <prometheus/gauge.h>

#include <functional>
#include <map>

namespace annals::actors {

namespace {

struct RegistryState {
  RegistryDeps deps;
  AggregateSettings settings;
  std::map<StreamId, AggregateActor> active;
  struct Active {
    StreamId stream;
    prometheus::Gauge* gauge;  // active instances of its type
  };
  std::map<caf::actor_addr, Active> streams;  // reverse index, for down messages
  static inline const char* name = "annals.activation_registry";
};

using Self = ActivationRegistryActor::stateful_base<RegistryState>;

void forget(Self* self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto it = st.streams.find(who);
  if (it == st.streams.end()) return;
  auto a = st.active.find(it->second.stream);
  if (a != st.active.end() && a->second.address() == who) st.active.erase(a);
  it->second.gauge->Decrement();
  st.streams.erase(it);
}

// The actor of `stream`, activated on first use.
AggregateActor activate(Self* self, const RegisteredAggregate& registered, const StreamId& stream) {
  auto& st = self->state;
  auto it = st.active.find(stream);
  if (it != st.active.end()) return it->second;
  const auto& readers = st.deps.readers;
  auto reader = readers[std::hash<std::string>{}(stream.to_string()) % readers.size()];
  auto a = spawn_aggregate(self, stream, registered.type,
                           AggregateDeps{st.deps.journal, reader, caf::actor_cast<PassivationActor>(self),
                                         st.deps.upcasters, registered.instruments, st.deps.log},
                           st.settings);
  self->monitor(a);
  st.active.emplace(stream, a);
  st.streams.emplace(a.address(), RegistryState::Active{stream, registered.instruments.active});
  registered.instruments.active->Increment();
  return a;
}

ActivationRegistryActor::behavior_type activation_registry(Self* self, RegistryDeps deps,
                                                             AggregateSettings settings) {
  self->state.deps = std::move(deps);
  self->state.settings = settings;
  self->set_down_handler([=](caf::down_msg& dm) { forget(self, dm.source); });
  // Shutdown: stop every aggregate with us.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& kv : self->state.active) self->send_exit(kv.second, msg.reason);
    for (auto& kv : self->state.streams) kv.second.gauge->Decrement();
    self->state.active.clear();
    self->state.streams.clear();
    self->quit(msg.reason);
  });
  return {
    [=](execute_atom, const RegisteredAggregatePtr& type, CommandEnvelope& env) {
      auto target = activate(self, *type, env.command.stream());
      return self->delegate(target, execute_atom::value, std::move(env));
    },
    [=](inspect_atom, const RegisteredAggregatePtr& type, const StreamId& stream) {
      return self->delegate(activate(self, *type, stream), inspect_atom::value);
    },
    [=](passivate_atom) {
      forget(self, caf::actor_cast<caf::actor_addr>(self->current_sender()));
      return true;
    },
    [=](count_atom) { return self->state.active.size(); },
  };
}

} // namespace

ActivationRegistryActor spawn_activation_registry(caf::actor_system& sys, RegistryDeps deps,
                                                    AggregateSettings settings) {
  return sys.spawn(activation_registry, std::move(deps), settings);
}

} // namespace annals::actors
