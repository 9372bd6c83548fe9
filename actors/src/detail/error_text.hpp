#pragma once
// A CAF error in our words, for the texts users read (last_error, log
// records, CommandResult messages): never CAF's rendering
// `system_error(runtime_error, ("projection 'x' failed ..."))`.

#include <caf/fwd.hpp>

#include <string>

namespace annals::actors::detail {

/// The reason an actor gave (make_error(sec::runtime_error, "text") gives
/// "text"), or what a CAF code means ("no answer within the time limit").
/// `sys` renders a code this does not know (none of ours).
std::string error_text(caf::actor_system& sys, const caf::error& err);

} // namespace annals::actors::detail
