// Stage: the command's aggregate type and command type must be registered.
// The only place that says unknown_aggregate or unknown_command.
#include "pipeline/stages.hpp"

#include "type_registry.hpp"

namespace annals::pipeline {

Expected<actors::RegisteredAggregatePtr> find_aggregate(const detail::TypeRegistry& types, const std::string& name) {
  if (auto registered = types.find(name)) return registered;
  return Error{errc::unknown_aggregate, "no aggregate type '" + name + "'"};
}

namespace {

class ResolveAggregate final : public CommandStage {
public:
  explicit ResolveAggregate(const detail::TypeRegistry& types) : types_(types) {}
  void before_dispatch(Admission& a) override {
    const Command& c = a.command;
    auto registered = find_aggregate(types_, c.aggregate);
    if (!registered) return a.halt(CommandResult::reject(c.stream(), registered.error()));
    auto handles = (*registered)->commands.find(c.command);
    if (handles == (*registered)->commands.end())
      return a.halt(CommandResult::reject(
        c.stream(), Error{errc::unknown_command, "aggregate '" + c.aggregate + "' has no command '" + c.command + "'"}));
    a.metrics = &handles->second;  // registered types are never removed: the pointer stays valid
    a.aggregate = std::move(*registered);
  }

private:
  const detail::TypeRegistry& types_;
};

} // namespace

std::unique_ptr<CommandStage> resolve_aggregate(const detail::TypeRegistry& types) {
  return std::make_unique<ResolveAggregate>(types);
}

} // namespace annals::pipeline
