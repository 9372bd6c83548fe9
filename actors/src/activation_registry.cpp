#include "annals/actors/activation_registry.hpp"

#include <caf/actor_cast.hpp>
#include <caf/actor_system.hpp>
#include <caf/exit_reason.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/system_messages.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <prometheus/counter.h>
#include <prometheus/gauge.h>

#include <cstdint>
#include <vector>
#include <functional>
#include <map>
#include <set>
#include <variant>

namespace annals::actors {

namespace {

// A request that arrived while the stream's previous actor was stopping: it
// waits here and goes to the next actor, in arrival order.
struct WaitingCommand {
  caf::typed_response_promise<CommandResult> promise;
  CommandEnvelope envelope;
};
struct WaitingInspection {
  caf::typed_response_promise<Expected<AggregateInspection>> promise;
};
using Waiting = std::variant<WaitingCommand, WaitingInspection>;

// One stream's actor, from its spawn until its down message (not until it
// asked to passivate: while it stops, no second actor may start).
struct Activation {
  AggregateActor actor;
  RegisteredAggregatePtr type;
  std::uint64_t sent = 0;      // requests delegated to this actor
  bool stopping = false;       // passivation granted, down message not yet seen
  bool evicting = false;       // asked to leave as soon as it is idle
  std::uint64_t last_used = 0; // key in by_last_use
  std::vector<Waiting> waiting; // for the next actor of the stream (a vector: allocates nothing while empty)
};

struct RegistryState {
  RegistryDeps deps;
  AggregateSettings settings;
  std::size_t max_active = 0;  // 0: no bound
  std::map<StreamId, Activation> by_stream;
  std::map<caf::actor_addr, StreamId> by_address;
  std::map<std::uint64_t, StreamId> by_last_use;  // least recently used first
  std::uint64_t clock = 0;
  std::size_t running = 0;  // activations not stopping
  static inline const char* name = "annals.activation_registry";
};

using Self = ActivationRegistryActor::stateful_base<RegistryState>;

void touch(Self* self, const StreamId& stream, Activation& a) {
  auto& st = self->state;
  st.by_last_use.erase(a.last_used);
  a.last_used = ++st.clock;
  st.by_last_use.emplace(a.last_used, stream);
}

// Over the bound: ask the least recently used actors to leave once idle.
// Busy ones finish first, so the bound is exceeded at most by the actors
// that have work in hand.
void evict_over_bound(Self* self) {
  auto& st = self->state;
  if (st.max_active == 0 || st.running <= st.max_active) return;
  std::size_t asked = 0;
  for (auto& [asked_at, stream] : st.by_last_use) {
    (void) asked_at;
    auto& a = st.by_stream.at(stream);
    if (a.stopping) continue;
    if (!a.evicting) {
      a.evicting = true;
      a.type->instruments.evictions->Increment();
      self->send(a.actor, evict_atom::value);
    }
    if (++asked >= st.running - st.max_active) return;
  }
}

Activation& spawn_for(Self* self, const RegisteredAggregatePtr& type, const StreamId& stream) {
  auto& st = self->state;
  const auto& readers = st.deps.readers;
  auto reader = readers[std::hash<std::string>{}(stream.to_string()) % readers.size()];
  auto actor = spawn_aggregate(self, stream, type->type,
                               AggregateDeps{st.deps.journal, reader, caf::actor_cast<PassivationActor>(self),
                                             st.deps.upcasters, type->instruments, st.deps.log, st.deps.ownership},
                               st.settings);
  self->monitor(actor);
  auto& a = st.by_stream[stream];
  a = Activation{};
  a.actor = actor;
  a.type = type;
  st.by_address.emplace(actor.address(), stream);
  type->instruments.active->Increment();
  ++st.running;
  touch(self, stream, a);
  evict_over_bound(self);
  return a;
}

// The stream's running actor, activated on first use; nullptr while its
// previous actor is still stopping (the request must wait).
Activation* running_for(Self* self, const RegisteredAggregatePtr& type, const StreamId& stream) {
  auto& st = self->state;
  auto it = st.by_stream.find(stream);
  if (it == st.by_stream.end()) return &spawn_for(self, type, stream);
  if (it->second.stopping) return nullptr;
  touch(self, stream, it->second);
  return &it->second;
}

// The stream's actor is down: forget it; start the next one if requests wait.
void on_down(Self* self, const caf::actor_addr& who) {
  auto& st = self->state;
  auto addr = st.by_address.find(who);
  if (addr == st.by_address.end()) return;
  const StreamId stream = addr->second;
  st.by_address.erase(addr);
  auto it = st.by_stream.find(stream);
  auto& old = it->second;
  old.type->instruments.active->Decrement();
  if (!old.stopping) --st.running;  // it died without passivating (a crash, a failed recovery reply)
  st.by_last_use.erase(old.last_used);
  auto waiting = std::move(old.waiting);
  auto type = old.type;
  st.by_stream.erase(it);
  if (waiting.empty()) return;
  auto& next = spawn_for(self, type, stream);
  for (auto& w : waiting) {
    ++next.sent;
    if (auto* cmd = std::get_if<WaitingCommand>(&w))
      cmd->promise.delegate(next.actor, execute_atom::value, std::move(cmd->envelope));
    else
      std::get<WaitingInspection>(w).promise.delegate(next.actor, inspect_atom::value);
  }
}

ActivationRegistryActor::behavior_type activation_registry(Self* self, RegistryDeps deps,
                                                             AggregateSettings settings, std::size_t max_active) {
  self->state.deps = std::move(deps);
  self->state.settings = settings;
  self->state.max_active = max_active;
  self->set_down_handler([=](caf::down_msg& dm) { on_down(self, dm.source); });
  // Shutdown: stop every aggregate with us; waiting requests get the error.
  self->set_exit_handler([=](caf::exit_msg& msg) {
    for (auto& [stream, a] : self->state.by_stream) {
      (void) stream;
      // From no execution unit: the scheduler spreads the exits over every
      // worker queue. Sent from here they would all queue on this worker, and
      // CAF 0.17 steals one job at a time walking that whole queue (quadratic).
      a.actor->enqueue(nullptr, caf::make_message_id(), caf::make_message(caf::exit_msg{self->address(), msg.reason}), nullptr);
      a.type->instruments.active->Decrement();
      for (auto& w : a.waiting) {
        auto err = caf::make_error(caf::exit_reason::user_shutdown);
        if (auto* cmd = std::get_if<WaitingCommand>(&w)) cmd->promise.deliver(err);
        else std::get<WaitingInspection>(w).promise.deliver(err);
      }
    }
    self->state.by_stream.clear();
    self->state.by_address.clear();
    self->quit(msg.reason);
  });
  return {
    [=](execute_atom, const RegisteredAggregatePtr& type,
        CommandEnvelope& env) -> caf::typed_response_promise<CommandResult> {
      const auto stream = env.command.stream();
      auto rp = self->make_response_promise<CommandResult>();
      if (auto* a = running_for(self, type, stream)) {
        ++a->sent;
        rp.delegate(a->actor, execute_atom::value, std::move(env));
      } else {
        self->state.by_stream.at(stream).waiting.push_back(WaitingCommand{rp, std::move(env)});
      }
      return rp;
    },
    [=](inspect_atom, const RegisteredAggregatePtr& type,
        const StreamId& stream) -> caf::typed_response_promise<Expected<AggregateInspection>> {
      auto rp = self->make_response_promise<Expected<AggregateInspection>>();
      if (auto* a = running_for(self, type, stream)) {
        ++a->sent;
        rp.delegate(a->actor, inspect_atom::value);
      } else {
        self->state.by_stream.at(stream).waiting.push_back(WaitingInspection{rp});
      }
      return rp;
    },
    // An idle aggregate asks to stop, saying how many requests it has
    // received. Granted only if that is every request sent to it: then
    // nothing is on its way there, and nothing will be, since from now on
    // requests for its stream wait for its down message.
    [=](passivate_atom, std::uint64_t received) {
      auto& st = self->state;
      auto addr = st.by_address.find(caf::actor_cast<caf::actor_addr>(self->current_sender()));
      if (addr == st.by_address.end()) return true;
      auto& a = st.by_stream.at(addr->second);
      if (a.stopping) return true;
      if (a.sent != received) return false;
      a.stopping = true;
      --st.running;
      st.by_last_use.erase(a.last_used);
      return true;
    },
    [=](count_atom) { return self->state.by_stream.size(); },
    // Another node may now change these streams: their actors' state must
    // not be used again. Each leaves once its queue is done (queued commands
    // meet the ownership check and fail with not_owner or get forwarded).
    [=](stop_shards_atom, const std::vector<int>& shards, int shard_count) {
      std::size_t asked = 0;
      if (shard_count < 1 || shards.empty()) return asked;
      const std::set<int> gone(shards.begin(), shards.end());
      for (auto& [stream, a] : self->state.by_stream) {
        if (a.stopping || a.evicting || !gone.count(shard_of(stream, shard_count))) continue;
        a.evicting = true;
        self->send(a.actor, evict_atom::value);
        ++asked;
      }
      return asked;
    },
  };
}

} // namespace

ActivationRegistryActor spawn_activation_registry(caf::actor_system& sys, RegistryDeps deps,
                                                    AggregateSettings settings, std::size_t max_active) {
  return sys.spawn(activation_registry, std::move(deps), settings, max_active);
}

} // namespace annals::actors
