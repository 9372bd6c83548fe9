#pragma once
// Command: a request to change one aggregate instance. The same envelope is
// used by the C++ API, JSON callers, scenario files and (later) other nodes.

#include "annals/event.hpp"
#include "annals/expected.hpp"
#include "annals/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace annals {

struct CommandMetadata {
  std::string correlation_id;
  std::string principal;
};

struct Command {
  std::string aggregate;   ///< aggregate type name, e.g. "account"
  std::string id;          ///< aggregate instance id, e.g. "acc-1"
  std::string command;     ///< command type, e.g. "deposit"
  json::object data;
  /// A repeat with the same key appends nothing and returns the first result.
  std::optional<std::string> idempotency_key;
  /// Optimistic concurrency: accepted only if the stream is at this version.
  std::optional<std::int64_t> expected_version;
  CommandMetadata metadata;
  /// This command's own id; becomes its events' causation id. Generated
  /// by the runtime when empty.
  std::string command_id;

  StreamId stream() const { return {aggregate, id}; }

  /// The JSON envelope (see docs/wire-format.md).
  json::object to_json() const;

  /// The parts that define "the same command" for idempotency: aggregate,
  /// id, command, data and expected_version, as canonical JSON text.
  std::string fingerprint() const;
};

/// Limits applied to every command before it reaches an aggregate.
struct CommandLimits {
  std::size_t max_id_length = 256;
  std::size_t max_data_bytes = 1 << 20;        ///< serialized "data", and each event's data
  std::size_t max_envelope_bytes = (1 << 20) + (64 << 10);
  std::size_t max_key_length = 256;           ///< idempotency key, correlation id, principal
};

/// Parses and validates a JSON command envelope. Every problem (malformed
/// JSON, missing field, wrong type, unknown field, a limit exceeded) is an
/// Error whose message says where.
Expected<Command> parse_command(std::string_view json_text, const CommandLimits& limits = {});
Expected<Command> command_from_json(const json::value& v, const CommandLimits& limits = {});

/// Checks the envelope fields a C++ caller filled in (ids, lengths, data size).
/// Does not know aggregate types: the runtime checks those.
std::optional<Error> validate_envelope(const Command& c, const CommandLimits& limits = {});

/// A random UUID (version 4), for command ids.
std::string make_uuid();

} // namespace annals
