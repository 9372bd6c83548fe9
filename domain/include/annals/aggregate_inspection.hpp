#pragma once
// AggregateInspection: an aggregate instance's current state, as
// Runtime::inspect returns it. Plain data, no CAF: the aggregate actor
// answers with this very type.

#include "annals/json.hpp"

#include <cstdint>

namespace annals {

/// An aggregate instance's current state, for diagnostics and tests.
struct AggregateInspection {
  std::int64_t version = 0;
  json::value state;
};

} // namespace annals
