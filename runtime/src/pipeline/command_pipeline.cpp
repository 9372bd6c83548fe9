#include "pipeline/command_pipeline.hpp"

#include <exception>

namespace annals::pipeline {

CommandPipeline::CommandPipeline(std::vector<std::unique_ptr<CommandStage>> stages, CommandDispatcher& dispatcher,
                                 detail::CallsInFlight& calls, HandBack hand_back, LoggerPtr log)
    : stages_(std::move(stages)), dispatcher_(dispatcher), calls_(calls), hand_back_(std::move(hand_back)),
      log_(std::move(log)) {}

bool CommandPipeline::before_dispatch(Admission& a) {
  for (auto& stage : stages_) {
    stage->before_dispatch(a);
    if (a.halted()) return true;
  }
  return false;
}

void CommandPipeline::after(Admission& a) {
  const bool accepted = a.result->accepted();
  for (auto& stage : stages_) accepted ? stage->after_dispatch(a) : stage->after_failure(a);
}

AdmittedCommand CommandPipeline::admit(Admission& a, std::chrono::milliseconds timeout) {
  std::optional<AuditRecord> audit;
  if (a.audit_with_events) audit = a.audit;
  return AdmittedCommand{std::move(a.command), a.aggregate, std::move(audit),
                         std::chrono::steady_clock::now() + timeout, a.arrived_forwarded};
}

void CommandPipeline::took(Admission& a, Dispatched d) {
  a.result = std::move(d.result);
  a.forwarded = d.forwarded;
  a.ran_elsewhere = d.ran_elsewhere;
}

CommandResult CommandPipeline::run(Command command, std::chrono::milliseconds timeout) {
  Admission a(std::move(command));
  if (before_dispatch(a)) {
    after(a);
    return std::move(*a.result);
  }
  // A runtime that stops answers without counting or auditing.
  auto ticket = calls_.enter();
  if (!ticket) return CommandResult::fail(a.command.stream(), detail::shutting_down_error());
  took(a, dispatcher_.dispatch(admit(a, timeout), *ticket));
  after(a);  // while in flight: the journal that takes the audit record is still there
  return std::move(*a.result);
}

void CommandPipeline::run_async(Command command, std::chrono::milliseconds timeout, ResultHandler done,
                                bool arrived_forwarded) {
  auto a = std::make_shared<Admission>(std::move(command));
  a->arrived_forwarded = arrived_forwarded;
  const bool halted = before_dispatch(*a);
  const StreamId stream = a->command.stream();
  // In flight until the handler ran, refused commands included, so shutdown
  // never stops a relay that still holds a result.
  auto ticket = calls_.enter();
  if (!ticket) return done(CommandResult::fail(stream, detail::shutting_down_error()));
  auto flight = std::make_shared<detail::CallsInFlight::Ticket>(std::move(*ticket));
  ResultHandler finish = [this, a, flight, done = std::move(done)](CommandResult r) {
    a->result = std::move(r);
    after(*a);
    // An exception must not escape into the actor that runs the handler.
    try {
      done(std::move(*a->result));
    } catch (const std::exception& e) {
      log_->log(LogLevel::error, "callback.failed", std::string("an execute_async callback threw: ") + e.what());
    } catch (...) {
      log_->log(LogLevel::error, "callback.failed", "an execute_async callback threw");
    }
    flight->release();
  };
  if (halted) {
    CommandResult early = std::move(*a->result);
    hand_back_(stream, std::move(early), std::move(finish));
    return;
  }
  dispatcher_.dispatch_async(admit(*a, timeout), [a, finish = std::move(finish)](Dispatched d) {
    const bool forwarded = d.forwarded, elsewhere = d.ran_elsewhere;
    a->forwarded = forwarded;
    a->ran_elsewhere = elsewhere;
    finish(std::move(d.result));
  });
}

CommandResult CommandPipeline::refuse(CommandResult result, std::chrono::steady_clock::time_point received) {
  Admission a(Command{}, received);
  a.result = std::move(result);
  after(a);
  return std::move(*a.result);
}

} // namespace annals::pipeline
