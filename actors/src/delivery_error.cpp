#include "annals/actors/delivery_error.hpp"
#include "detail/error_text.hpp"

#include <caf/actor_system.hpp>
#include <caf/error.hpp>
#include <caf/sec.hpp>

namespace annals::actors {

Error delivery_error(caf::actor_system& sys, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    return Error{errc::timeout, "no result within the time limit; the command may still commit "
                                "(retry with the same idempotency key to find out)"};
  return Error{errc::internal_error, "the runtime could not deliver the command: " + detail::error_text(sys, err)};
}

} // namespace annals::actors
