#include "annals/actors/command_gateway.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>

namespace annals::actors {

namespace {

caf::behavior command_gateway(caf::event_based_actor* self, caf::actor router) {
  return {
    [=](CommandResult& early, ResultCallback& done) { (*done)(std::move(early)); },
    [=](execute_atom, CommandEnvelope& env, ResultCallback& done) {
      const StreamId stream = env.command.stream();
      auto left = env.deadline - std::chrono::steady_clock::now();
      auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(left);
      if (timeout.count() < 1) timeout = std::chrono::milliseconds(1);
      self->request(router, timeout, execute_atom::value, std::move(env))
        .then([=](CommandResult& r) { (*done)(std::move(r)); },
              [=](caf::error& err) {
                Error e = err == caf::sec::request_timeout
                            ? Error{errc::timeout, "no result within the time limit; the command may still commit "
                                                   "(retry with the same idempotency key to find out)"}
                            : Error{errc::internal_error,
                                    "the runtime could not deliver the command: " + self->system().render(err)};
                (*done)(CommandResult::fail(stream, std::move(e)));
              });
    },
  };
}

} // namespace

caf::actor spawn_command_gateway(caf::actor_system& sys, caf::actor router) {
  return sys.spawn(command_gateway, std::move(router));
}

} // namespace annals::actors
