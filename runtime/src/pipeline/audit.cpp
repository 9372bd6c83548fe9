// Stage: the one owner of audit records. Before dispatch it builds the
// command's record, which travels with the command and is written with its
// events (the store fills in the time and position at commit). Every other
// outcome it finishes here and writes to the trail itself. It also logs the
// outcomes operators must hear about: denials and failures. A command that
// another node ran (forwarded there as its shard's owner) is that node's to
// audit; this node records it only when the forwarding itself failed.
#include "pipeline/stages.hpp"

namespace annals::pipeline {

namespace {

AuditRecord record_of(const Command& c) {
  AuditRecord rec;
  rec.principal = c.metadata.principal;
  rec.correlation_id = c.metadata.correlation_id;
  rec.command_id = c.command_id;
  rec.stream = c.stream();
  rec.command = c.command;
  return rec;
}

// Whether the store already wrote the command's record in its append
// transaction: a first execution that appended, which is one with events
// and also one with no events but an idempotency key (the aggregate appends
// it to record the key: decide_and_append in actors/src/aggregate_actor.cpp).
bool written_at_commit(const Command& c, const CommandResult& r) {
  return r.accepted() && !r.replayed && (!r.events.empty() || c.idempotency_key);
}

class Audit final : public CommandStage {
public:
  Audit(LoggerPtr log, bool keep_trail, AuditWriter write)
      : log_(std::move(log)), keep_trail_(keep_trail), write_(std::move(write)) {}

  void before_dispatch(Admission& a) override {
    a.audit = record_of(a.command);
    a.audit_with_events = keep_trail_;
  }
  void after_dispatch(Admission& a) override { finish(a); }
  void after_failure(Admission& a) override { finish(a); }

private:
  void finish(Admission& a) {
    if (!a.audit) a.audit = record_of(a.command);  // halted before this stage: the command as sent
    const CommandResult& r = *a.result;
    log_outcome(*a.audit, r);
    if (!keep_trail_ || a.ran_elsewhere) return;
    if (written_at_commit(a.command, r)) return;
    AuditRecord rec = *a.audit;
    rec.at_us = now_us();
    if (r.accepted()) rec.outcome = r.replayed ? "replayed" : "accepted";
    else if (r.code() == errc::forbidden) rec.outcome = "denied";
    else rec.outcome = r.rejected() ? "rejected" : "failed";
    if (r.error) {
      rec.code = r.error->code;
      rec.message = r.error->message;
    }
    rec.position = r.position;
    write_(std::move(rec));
  }

  void log_outcome(const AuditRecord& who, const CommandResult& r) const {
    if (r.accepted() || (r.rejected() && r.code() != errc::forbidden)) return;
    const LogLevel level = r.rejected() ? LogLevel::warn : LogLevel::error;
    if (!log_->enabled(level)) return;
    json::object f{{"aggregate", r.aggregate}, {"id", r.id}, {"code", r.code()}};
    f["command"] = who.command;
    f["principal"] = who.principal;
    f["correlation_id"] = who.correlation_id;
    f["command_id"] = who.command_id;
    log_->log(level, r.rejected() ? "command.denied" : "command.failed", r.error ? r.error->message : "", std::move(f));
  }

  LoggerPtr log_;
  bool keep_trail_;
  AuditWriter write_;
};

} // namespace

std::unique_ptr<CommandStage> audit(LoggerPtr log, bool keep_trail, AuditWriter write) {
  return std::make_unique<Audit>(std::move(log), keep_trail, std::move(write));
}

} // namespace annals::pipeline
