#include "pipeline/local_dispatcher.hpp"

#include "detail/ask.hpp"

#include <caf/send.hpp>

#include <functional>
#include <memory>

namespace annals::pipeline {

using namespace actors;

LocalDispatcher::LocalDispatcher(caf::actor_system& sys, const ActivationRegistryActor& registry,
                                 const std::vector<OrderedRelayActor>& relays)
    : sys_(sys), registry_(registry), relays_(relays) {}

Dispatched LocalDispatcher::dispatch(AdmittedCommand c, const detail::CallsInFlight::Ticket& ticket) {
  return Dispatched{run_here(std::move(c), ticket)};
}

void LocalDispatcher::dispatch_async(AdmittedCommand c, DispatchHandler done) {
  run_here_async(std::move(c), [done = std::move(done)](CommandResult r) { done(Dispatched{std::move(r)}); });
}

CommandResult LocalDispatcher::run_here(AdmittedCommand c, const detail::CallsInFlight::Ticket& ticket) {
  const StreamId stream = c.command.stream();
  auto left = std::chrono::ceil<std::chrono::milliseconds>(c.deadline - std::chrono::steady_clock::now());
  CommandEnvelope env{std::move(c.command), std::move(c.audit), c.deadline};
  auto result = detail::ask<CommandResult>(sys_, ticket, registry_, left, execute_atom::value,
                                           std::move(c.aggregate), std::move(env));
  if (!result) return CommandResult::fail(stream, result.error());
  return std::move(*result);
}

void LocalDispatcher::run_here_async(AdmittedCommand c, ResultHandler done) {
  const auto& relay = relay_of(c.command.stream());
  CommandEnvelope env{std::move(c.command), std::move(c.audit), c.deadline};
  caf::anon_send(relay, execute_atom::value, std::move(c.aggregate), std::move(env),
                 std::make_shared<const ResultHandler>(std::move(done)));
}

void LocalDispatcher::hand_back(const StreamId& stream, CommandResult result, ResultHandler done) {
  caf::anon_send(relay_of(stream), std::move(result), std::make_shared<const ResultHandler>(std::move(done)));
}

const OrderedRelayActor& LocalDispatcher::relay_of(const StreamId& stream) const {
  return relays_[std::hash<std::string>{}(stream.to_string()) % relays_.size()];
}

} // namespace annals::pipeline
