#pragma once
// CommandPipeline: the one place a command is admitted. execute, execute_json
// and execute_async all run it: the stages' before_dispatch in order (a stage
// may halt the command with a result), then the dispatcher, then the stages'
// after_dispatch (accepted) or after_failure (everything else). See
// stages.hpp for the stages and docs/architecture.md for the whole path.

#include "detail/calls_in_flight.hpp"
#include "pipeline/command_dispatcher.hpp"
#include "pipeline/command_stage.hpp"

#include "annals/log.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace annals::pipeline {

class CommandPipeline {
public:
  /// Hands a result decided before dispatch to an asynchronous caller's
  /// handler on a runtime thread (never the caller's).
  using HandBack = std::function<void(const StreamId&, CommandResult, ResultHandler)>;

  CommandPipeline(std::vector<std::unique_ptr<CommandStage>> stages, CommandDispatcher& dispatcher,
                  detail::CallsInFlight& calls, HandBack hand_back, LoggerPtr log);

  /// Runs a command and waits for its result (at most `timeout`).
  CommandResult run(Command command, std::chrono::milliseconds timeout);
  /// Runs a command; `done` gets the result on a runtime thread (directly,
  /// with code shutting_down, only once the runtime is stopping).
  /// `arrived_forwarded`: another node sent it here as its shard's owner.
  void run_async(Command command, std::chrono::milliseconds timeout, ResultHandler done,
                 bool arrived_forwarded = false);
  /// A command that could not even be read (received at `received`): its
  /// outcome goes through the stages' after_failure like any other refusal.
  CommandResult refuse(CommandResult result, std::chrono::steady_clock::time_point received);

private:
  bool before_dispatch(Admission& a);  // true: halted
  void after(Admission& a);
  static void took(Admission& a, Dispatched d);
  AdmittedCommand admit(Admission& a, std::chrono::milliseconds timeout);

  std::vector<std::unique_ptr<CommandStage>> stages_;
  CommandDispatcher& dispatcher_;
  detail::CallsInFlight& calls_;
  HandBack hand_back_;
  LoggerPtr log_;
};

} // namespace annals::pipeline
