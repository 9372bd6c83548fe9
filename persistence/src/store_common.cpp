#include "annals/persistence/event_store.hpp"
#include "annals/persistence/store_error.hpp"

namespace annals {

const char* to_string(StoreFailure f) {
  switch (f) {
    case StoreFailure::unavailable: return "unavailable";
    case StoreFailure::locked: return "locked";
    case StoreFailure::read_only: return "read_only";
    case StoreFailure::full: return "full";
    case StoreFailure::corrupt: return "corrupt";
    case StoreFailure::incompatible: return "incompatible";
    case StoreFailure::in_use: return "in_use";
  }
  return "unavailable";
}

CommandResult AppendResult::to_result(const StreamId& s) const {
  std::int64_t pos = events.empty() ? 0 : events.back().position;
  return CommandResult::accept(s, version, pos, events);
}

} // namespace annals
