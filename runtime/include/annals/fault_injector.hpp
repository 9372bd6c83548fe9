#pragma once
// FaultInjector: makes a running Runtime's projectors crash, fail on chosen
// events, or slow down, for scenarios and tests (docs/projections.md, "Fault
// injection"). It is not part of the embedding API: annals/runtime.hpp does
// not include this header, and a runtime that never meets a FaultInjector
// runs its projectors without any fault seam (the projector's apply gate
// stays null).
//
//   annals::FaultInjector faults(runtime);
//   faults.fail_projection_on("balances", annals::EventMatch{"account", "deposited", "acc-7"}, 2);
//   faults.delay_projection("balances", std::chrono::milliseconds(50));
//   faults.clear_projection_faults("balances");
//
// Faults belong to the projection, not to one FaultInjector or one projector:
// they survive the supervisor's restarts and apply only to the live copy (a
// rebuild's or a reconciliation's fresh copy ignores them until it replaces
// the live one). Any number of FaultInjectors over one runtime see the same
// faults. Thread-safe; no CAF here.

#include "annals/error.hpp"
#include "annals/event.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace annals {

class Runtime;

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

class FaultInjector {
public:
  /// Injects into `runtime`'s projections; `runtime` must outlive it.
  explicit FaultInjector(Runtime& runtime) : runtime_(runtime) {}

  /// The projection's projector crashes now; its supervisor restarts it with
  /// backoff. Nothing happens for an unknown name.
  void crash_projection(const std::string& projection);

  /// The projection's live projector fails on the next event matching `match`
  /// that it applies, `times` times in a row (each attempt, including after
  /// its supervisor restarts it, counts once), as if its handler threw. The
  /// fault binds to that event's position; once used up, the event applies
  /// normally. With times >= options.projections.max_attempts the event is
  /// parked as a poison event; retry_dead_letter fails while the fault has
  /// failures left and succeeds after. Replaces an earlier fail fault of that
  /// projection; times <= 0 removes it. Error: unknown_projection.
  std::optional<Error> fail_projection_on(const std::string& projection, EventMatch match, int times);

  /// The projection applies each event `per_event` later than it could (a
  /// slow projector); meanwhile it keeps answering queries from the model it
  /// has (plain queries see older data; queries with min_position wait). A new
  /// delay applies to the events not applied yet; 0 removes the delay and the
  /// waiting events are applied at once. Error: unknown_projection.
  std::optional<Error> delay_projection(const std::string& projection, std::chrono::milliseconds per_event);

  /// Removes both kinds of fault from a projection (waiting events are
  /// applied at once). Error: unknown_projection.
  std::optional<Error> clear_projection_faults(const std::string& projection);

private:
  Runtime& runtime_;
};

} // namespace annals
