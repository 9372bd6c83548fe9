#pragma once
// What every actor's messages share. Local only: messages carry JSON values
// and are never serialized, so they are allowed as "unsafe" message types.
// The messages themselves are declared with the typed interfaces of their
// actors (journal.hpp, store_reader.hpp, aggregate_actor.hpp,
// activation_registry.hpp, ordered_relay.hpp, event_bus.hpp, projector.hpp,
// projection_supervisor.hpp). Included only by actors/ and the runtime
// facade's .cpp files.

#include "annals/aggregate_type.hpp"
#include "annals/command.hpp"
#include "annals/command_result.hpp"
#include "annals/persistence/event_store.hpp"
#include "annals/log.hpp"
#include "annals/upcasters.hpp"

#include <caf/allowed_unsafe_message_type.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace annals::actors {

using Deadline = std::chrono::steady_clock::time_point;

using UpcastersPtr = std::shared_ptr<const Upcasters>;

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::StreamId)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Event)
