#pragma once
// Fault injection for scenarios and tests: which events a projector fault
// applies to. The faults themselves are set on the Runtime
// (fail_projection_on, delay_projection, clear_projection_faults); see
// docs/projections.md, "Fault injection".

#include "annals/event.hpp"

#include <string>

namespace annals {

/// Which events a fault applies to; an empty field matches anything.
struct EventMatch {
  std::string aggregate;   ///< aggregate type, e.g. "account"
  std::string event_type;  ///< e.g. "deposited"
  std::string id;          ///< stream id, e.g. "acc-7"

  bool matches(const Event& e) const {
    return (aggregate.empty() || aggregate == e.stream.aggregate) && (event_type.empty() || event_type == e.type)
           && (id.empty() || id == e.stream.id);
  }

  /// "account/deposited/acc-7", with "*" for an empty field; for logs.
  std::string to_string() const {
    auto part = [](const std::string& s) { return s.empty() ? std::string("*") : s; };
    return part(aggregate) + "/" + part(event_type) + "/" + part(id);
  }
};

} // namespace annals
