#pragma once
// CommandResult: what a command did. Accepted (with the events it committed),
// rejected (the domain or a validation said no; nothing changed) or failed
// (the runtime could not finish it: store down, timeout, conflict after retry).

#include "annals/command.hpp"
#include "annals/error.hpp"
#include "annals/event.hpp"

#include <optional>
#include <string>
#include <vector>

namespace annals {

enum class CommandStatus { accepted, rejected, failed };

const char* to_string(CommandStatus s);

struct CommandResult {
  CommandStatus status = CommandStatus::failed;
  std::string aggregate;
  std::string id;
  std::int64_t version = 0;    ///< the stream's version after the command
  std::int64_t position = 0;   ///< global position of its last event (0: none)
  std::vector<Event> events;   ///< the events it committed
  bool replayed = false;       ///< true: a repeat of an idempotency key; nothing new was appended
  std::optional<Error> error;  ///< set unless accepted

  bool accepted() const { return status == CommandStatus::accepted; }
  bool rejected() const { return status == CommandStatus::rejected; }
  bool failed() const { return status == CommandStatus::failed; }
  /// The error code, or "" when accepted.
  std::string_view code() const { return error ? std::string_view{error->code} : std::string_view{}; }

  static CommandResult accept(const StreamId& s, std::int64_t version, std::int64_t position,
                              std::vector<Event> events);
  static CommandResult reject(const StreamId& s, Error e, std::int64_t version = 0);
  static CommandResult fail(const StreamId& s, Error e, std::int64_t version = 0);

  /// {"status", "aggregate", "id", "version", "position", "events": [{"type",
  /// "version", "position", "data"}], "replayed", "error"?}
  json::object to_json() const;
  static Expected<CommandResult> from_json(const json::value& v);
};

} // namespace annals
