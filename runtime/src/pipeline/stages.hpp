#pragma once
// The command pipeline's stages, in the order the runtime runs them:
//
//   record_metrics     counts every outcome and its latency (after)
//   validate_envelope  ids, lengths, data size              (before)
//   resolve_aggregate  unknown_aggregate, unknown_command   (before)
//   authorize          the CommandPolicy: forbidden         (before)
//   assign_ids         command id, correlation id           (before)
//   audit              builds the audit record; logs denials and failures,
//                      writes outcomes to the trail         (before, after)
//
// Each lives in its own file. No CAF here.

#include "pipeline/command_stage.hpp"

#include "annals/authorization.hpp"
#include "annals/expected.hpp"
#include "annals/log.hpp"

#include <functional>
#include <memory>

namespace annals::detail {
class TypeRegistry;
}

namespace annals::pipeline {

/// `invalid`: where commands of no known aggregate or command type count.
std::unique_ptr<CommandStage> record_metrics(actors::CommandInstruments invalid);

std::unique_ptr<CommandStage> validate_envelope(CommandLimits limits);

/// The one check for unknown aggregate and command types.
std::unique_ptr<CommandStage> resolve_aggregate(const detail::TypeRegistry& types);
/// The aggregate type of that name, or unknown_aggregate (also used by
/// Runtime::inspect).
Expected<actors::RegisteredAggregatePtr> find_aggregate(const detail::TypeRegistry& types, const std::string& name);

/// An empty policy allows everything.
std::unique_ptr<CommandStage> authorize(CommandPolicy policy);

std::unique_ptr<CommandStage> assign_ids();

/// Writes a finished audit record to the trail (with the journal's next batch).
using AuditWriter = std::function<void(AuditRecord)>;
/// `keep_trail`: RuntimeOptions::audit; without it only the log lines remain.
std::unique_ptr<CommandStage> audit(LoggerPtr log, bool keep_trail, AuditWriter write);

} // namespace annals::pipeline
