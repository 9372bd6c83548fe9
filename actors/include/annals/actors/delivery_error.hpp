#pragma once
// The caller's side of a request that got no answer: what a CAF error means
// for someone waiting for a result. Shared by the runtime's blocking calls
// and the ordered relay, so that both say the same.

#include "annals/error.hpp"

#include <caf/fwd.hpp>

namespace annals::actors {

/// A request timeout is errc::timeout (a command may still commit: retrying
/// with the same idempotency key tells); any other CAF error means the call
/// was not delivered (errc::internal_error, with CAF's rendering of it).
Error delivery_error(caf::actor_system& sys, const caf::error& err);

} // namespace annals::actors
