#pragma once
// Events: facts that happened to one stream (an aggregate instance), in the
// order they were committed.

#include "annals/json.hpp"

#include <cstdint>
#include <string>
#include <type_traits>

namespace annals {

/// Which aggregate instance a stream belongs to: type name and id.
struct StreamId {
  std::string aggregate;
  std::string id;

  /// "account/acc-1", for messages.
  std::string to_string() const { return aggregate + "/" + id; }
  friend bool operator==(const StreamId& a, const StreamId& b) {
    return a.aggregate == b.aggregate && a.id == b.id;
  }
  friend bool operator!=(const StreamId& a, const StreamId& b) { return !(a == b); }
  friend bool operator<(const StreamId& a, const StreamId& b) {
    return a.aggregate != b.aggregate ? a.aggregate < b.aggregate : a.id < b.id;
  }
};

struct EventMetadata {
  std::int64_t timestamp_us = 0;  ///< commit time, microseconds since the Unix epoch
  std::string correlation_id;     ///< from the command's metadata
  std::string causation_id;       ///< the id of the command that caused it
  std::string principal;          ///< who sent that command

  json::object to_json() const;
  static EventMetadata from_json(const json::value& v);
};

/// An event that a command decided on, not yet committed.
struct NewEvent {
  std::string type;
  int schema_version = 1;
  json::value data;
};

/// An event as committed and read back.
struct Event {
  StreamId stream;
  std::int64_t version = 0;    ///< 1..n within its stream, contiguous
  std::int64_t position = 0;   ///< global position, in commit order
  std::string type;
  int schema_version = 1;
  json::value data;
  EventMetadata metadata;

  /// The read-back shape: {"position", "aggregate", "id", "version", "type",
  /// "schema_version", "data", "metadata": {"timestamp", ...}}.
  json::object to_json() const;
};

/// Renders microseconds since the epoch as ISO 8601 UTC ("2026-11-24T10:00:00.123456Z").
std::string format_timestamp(std::int64_t us);
std::int64_t now_us();

namespace detail {
template <class E>
constexpr auto schema_version_of(int) -> decltype(int(E::schema_version)) { return E::schema_version; }
template <class E>
constexpr int schema_version_of(long) { return 1; }
} // namespace detail

/// Makes a NewEvent from a domain struct that names its type:
///   struct Deposited { static constexpr const char* event_type = "deposited"; std::int64_t amount; };
/// An optional `static constexpr int schema_version = 2;` sets its schema version.
template <class E>
NewEvent to_new_event(const E& e) {
  return NewEvent{E::event_type, detail::schema_version_of<E>(0), encode(e)};
}

} // namespace annals
