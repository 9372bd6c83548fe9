#pragma once
// A stage of the command pipeline, and the admission it works on. Modelled on
// Commanded's middleware: every stage sees each command before dispatch and
// its outcome after. No CAF here.

#include "annals/actors/instruments.hpp"
#include "annals/actors/registered_aggregate.hpp"
#include "annals/command.hpp"
#include "annals/command_result.hpp"
#include "annals/persistence/event_store.hpp"

#include <chrono>
#include <optional>

namespace annals::pipeline {

/// One command on its way through the pipeline: what the stages found out
/// about it, and in the end its result.
struct Admission {
  explicit Admission(Command c, std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now())
      : command(std::move(c)), received(at) {}

  Command command;  ///< moved to the dispatcher once admitted
  std::chrono::steady_clock::time_point received;
  /// Where its outcome is counted (set by resolve_aggregate; null: the
  /// "(invalid)" series).
  const actors::CommandInstruments* metrics = nullptr;
  actors::RegisteredAggregatePtr aggregate;  ///< its type, set by resolve_aggregate
  /// Its audit record, built once, by the audit stage; the log lines of its
  /// outcome name it by this record too.
  std::optional<AuditRecord> audit;
  /// The record travels with the command, to be written with its events.
  bool audit_with_events = false;
  /// Set by a stage that halts the command, or by its dispatch.
  std::optional<CommandResult> result;
  /// It came from another node, to run here as its shard's owner.
  bool arrived_forwarded = false;
  /// Its dispatch sent it to the node that holds its shard...
  bool forwarded = false;
  /// ... whose pipeline ran it: audited and counted there, not here.
  bool ran_elsewhere = false;

  /// Stops the command before dispatch, with this result.
  void halt(CommandResult r) { result = std::move(r); }
  bool halted() const { return result.has_value(); }
};

class CommandStage {
public:
  virtual ~CommandStage() = default;
  /// Runs in stage order before dispatch; may halt() the command, and then
  /// no later stage's before_dispatch runs and the command is not dispatched.
  virtual void before_dispatch(Admission&) {}
  /// Runs in stage order once the command was accepted (a.result is set).
  virtual void after_dispatch(Admission&) {}
  /// Runs in stage order for every command not accepted: halted by a stage,
  /// rejected by its aggregate, or failed (a.result is set).
  virtual void after_failure(Admission&) {}
};

} // namespace annals::pipeline
