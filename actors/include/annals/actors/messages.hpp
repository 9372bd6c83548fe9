#pragma once
// What every actor's messages share. Local only: messages carry JSON values
// and are never serialized, so they are allowed as "unsafe" message types.
// The messages themselves are declared with the actors' typed interfaces
// (journal.hpp, store_reader.hpp, event_bus.hpp, projector.hpp,
// projection_supervisor.hpp), except command_messages.hpp (router,
// aggregates). Included only by actors/ and the runtime facade's .cpp files.

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

using AggregateTypePtr = std::shared_ptr<const AggregateType>;
using UpcastersPtr = std::shared_ptr<const Upcasters>;

} // namespace annals::actors

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::StreamId)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(annals::Event)

// Until each area's messages move next to their actor's typed interface.
#include "annals/actors/command_messages.hpp"
