#pragma once
// Decision: what a command handler returns. Either the events the command
// causes (possibly none) or a rejection. It is a value: the runtime carries
// it out (persist, then apply, then reply).

#include "annals/error.hpp"
#include "annals/event.hpp"

#include <string>
#include <utility>
#include <vector>

namespace annals {

class Decision {
public:
  static Decision accept(std::vector<NewEvent> events = {}) {
    Decision d;
    d.events_ = std::move(events);
    return d;
  }
  static Decision reject(std::string_view code, std::string message) {
    Decision d;
    d.rejected_ = true;
    d.rejection_ = Error{code, std::move(message)};
    return d;
  }

  bool accepted() const { return !rejected_; }
  const std::vector<NewEvent>& events() const { return events_; }
  std::vector<NewEvent>&& take_events() { return std::move(events_); }
  const Error& rejection() const { return rejection_; }

private:
  bool rejected_ = false;
  std::vector<NewEvent> events_;
  Error rejection_;
};

/// Accept the command and persist these events (domain structs with an
/// `event_type`), in order.
template <class... E>
Decision emit(const E&... events) {
  return Decision::accept(std::vector<NewEvent>{to_new_event(events)...});
}

/// Accept the command; it changes nothing.
inline Decision nothing() { return Decision::accept(); }

/// Refuse the command with a domain reason; nothing is persisted.
inline Decision reject(std::string_view code, std::string message) {
  return Decision::reject(code, std::move(message));
}

} // namespace annals
