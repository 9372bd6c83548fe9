#pragma once
// ask: the one way the runtime's blocking calls talk to an actor. Sends a
// request from the caller's thread, waits for the reply (at most `timeout`)
// and maps CAF's errors to annals errors (delivery_error: a timeout is
// errc::timeout). Never use it from inside an actor (it blocks a thread).

#include "annals/actors/delivery_error.hpp"
#include "annals/expected.hpp"
#include "detail/calls_in_flight.hpp"

#include <caf/actor_system.hpp>
#include <caf/logger.hpp>
#include <caf/scoped_actor.hpp>

#include <chrono>
#include <optional>
#include <utility>

namespace annals::detail {

/// CAF 0.17 pins the actor system's logger in a thread-local of every thread
/// that creates the system or a scoped_actor, and ~actor_system waits until
/// every such reference is gone: destroying the runtime on another thread
/// would wait for as long as this thread lives. Let go of it.
inline void release_caf_logger_of_this_thread() { caf::logger::set_current_actor_system(nullptr); }

/// Asks `dest` while the caller holds a ticket (for callers that do more
/// work in the same flight, before or after the request).
template <class Reply, class Handle, class... Ts>
Expected<Reply> ask(caf::actor_system& sys, const CallsInFlight::Ticket&, const Handle& dest,
                    std::chrono::milliseconds timeout, Ts&&... xs) {
  std::optional<Expected<Reply>> out;
  {
    caf::scoped_actor self{sys};
    self->request(dest, timeout, std::forward<Ts>(xs)...)
      .receive([&](Reply& reply) { out.emplace(std::move(reply)); },
               [&](caf::error& err) { out.emplace(actors::delivery_error(sys, err)); });
  }
  release_caf_logger_of_this_thread();
  return std::move(*out);
}

/// Asks `dest` in a flight of its own: errc::shutting_down once the runtime
/// stops.
template <class Reply, class Handle, class... Ts>
Expected<Reply> ask(caf::actor_system& sys, CallsInFlight& calls, const Handle& dest,
                    std::chrono::milliseconds timeout, Ts&&... xs) {
  auto ticket = calls.enter();
  if (!ticket) return shutting_down_error();
  return ask<Reply>(sys, *ticket, dest, timeout, std::forward<Ts>(xs)...);
}

} // namespace annals::detail
