#include "annals/actors/command_router.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/exit_reason.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/actor_cast.hpp>

#include <prometheus/gauge.h>

#include <functional>
#include <map>

namespace annals::actors {

namespace {

struct RouterState {
  RouterDeps deps;
  AggregateSettings settings;
  std::map<StreamId, caf::actor> active;
  struct Active {
    StreamId stream;
    prometheus::Gauge* gauge;  // active instances of its type
  };
  std::map<caf::actor_addr, Active> streams;  // reverse index, for down messages
  static inline const char* name = "annals.command_router";
};

using Self = caf::stateful_actor<RouterState>;

void forget(Self* self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto it = st.streams.find(who);
  if (it == st.streams.end()) return;
  auto a = st.active.find(it->second.stream);
  if (a != st.active.end() && a->second.address() == who) st.active.erase(a);
  it->second.gauge->Decrement();
  st.streams.erase(it);
}

// The actor of `stream`, activated on first use. Returns an invalid handle
// when the aggregate type is unknown (the runtime checks before sending).
caf::actor activate(Self* self, const StreamId& stream) {
  auto& st = self->state;
  auto it = st.active.find(stream);
  if (it != st.active.end()) return it->second;
  auto registered = st.deps.types(stream.aggregate);
  if (!registered) return {};
  const auto& readers = st.deps.readers;
  auto reader = readers[std::hash<std::string>{}(stream.to_string()) % readers.size()];
  auto a = spawn_aggregate(self, stream, registered->type,
                           AggregateDeps{st.deps.journal, reader, caf::actor{self}, st.deps.upcasters,
                                         registered->instruments, st.deps.log},
                           st.settings);
  self->monitor(a);
  st.active.emplace(stream, a);
  st.streams.emplace(a.address(), RouterState::Active{stream, registered->instruments.active});
  registered->instruments.active->Increment();
  return a;
}

caf::behavior command_router(Self* self, RouterDeps deps, AggregateSettings settings) {
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
    [=](execute_atom, CommandEnvelope& env) {
      auto target = activate(self, env.command.stream());
      auto rp = self->make_response_promise();
      if (!target) {
        rp.deliver(CommandResult::reject(env.command.stream(),
                                         Error{errc::unknown_aggregate,
                                               "no aggregate type '" + env.command.aggregate + "'"}));
        return;
      }
      rp.delegate(target, execute_atom::value, std::move(env));
    },
    [=](inspect_atom, const StreamId& stream) {
      auto target = activate(self, stream);
      auto rp = self->make_response_promise();
      if (!target) {
        AggregateView v;
        v.error = Error{errc::unknown_aggregate, "no aggregate type '" + stream.aggregate + "'"};
        rp.deliver(std::move(v));
        return;
      }
      rp.delegate(target, inspect_atom::value);
    },
    [=](passivate_atom) {
      forget(self, caf::actor_cast<caf::actor_addr>(self->current_sender()));
      return true;
    },
    [=](count_atom) { return self->state.active.size(); },
  };
}

} // namespace

caf::actor spawn_command_router(caf::actor_system& sys, RouterDeps deps, AggregateSettings settings) {
  return sys.spawn(command_router, std::move(deps), settings);
}

} // namespace annals::actors
