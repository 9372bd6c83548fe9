#pragma once
// Upcasters: event schema evolution. When an event's data changes shape, the
// domain bumps the event's schema_version and registers a function that
// turns the old shape into the next one. Stored events are upcast step by
// step (1 -> 2 -> 3 ...) when they are read back, before an aggregate or a
// projection sees them, so domain code only ever handles the current shape.
//
//   runtime.register_upcaster("account", "deposited", 1, [](json::value v) {
//     auto& o = v.as_object();
//     o["amount_cents"] = o["amount"].as_int64() * 100;
//     o.erase("amount");
//     return v;  // now schema version 2
//   });
//
// An event whose version has no upcaster (and is older than the current one),
// or is newer than any this build knows, is an error naming the event.

#include "annals/event.hpp"
#include "annals/expected.hpp"

#include <atomic>
#include <functional>
#include <map>
#include <shared_mutex>
#include <string>

namespace annals {

class Upcasters {
public:
  using Fn = std::function<json::value(json::value data)>;

  /// Adds the step from `from_version` to `from_version + 1` for one event
  /// type of one aggregate type. Thread-safe; a duplicate step throws
  /// std::invalid_argument.
  void add(const std::string& aggregate, const std::string& event_type, int from_version, Fn fn);

  /// True while no upcaster is registered (a lock-free fast path).
  bool empty() const noexcept { return empty_.load(std::memory_order_acquire); }

  /// The newest schema version known for the event type (1 when none was registered).
  int current_version(const std::string& aggregate, const std::string& event_type) const;

  /// Brings `e` to the current version in place. Error code internal_error
  /// naming the event when a step is missing, throws, or the event is newer
  /// than this build knows.
  std::optional<Error> upcast(Event& e) const;

private:
  struct Steps {
    std::map<int, Fn> by_from;
    int current = 1;
  };
  std::atomic<bool> empty_{true};
  mutable std::shared_mutex mtx_;
  std::map<std::string, Steps> types_;  // "aggregate\ntype"
};

} // namespace annals
