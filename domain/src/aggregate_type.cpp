#include "annals/aggregate_type.hpp"

#include "annals/quoted.hpp"

namespace annals {

std::set<std::string> AggregateType::command_types() const {
  std::set<std::string> out;
  for (const auto& kv : commands_) out.insert(kv.first);
  return out;
}

std::set<std::string> AggregateType::event_types() const {
  std::set<std::string> out(ignored_events_.begin(), ignored_events_.end());
  for (const auto& kv : events_) out.insert(kv.first);
  return out;
}

Decision AggregateType::decide(const std::any& state, const Command& c) const {
  auto it = commands_.find(c.command);
  if (it == commands_.end())
    return Decision::reject(errc::unknown_command,
                            "aggregate '" + name_ + "' has no command " + quoted(c.command));
  return it->second(state, c);
}

void AggregateType::evolve(std::any& state, const Event& e) const {
  auto it = events_.find(e.type);
  if (it != events_.end()) {
    it->second(state, e);
    return;
  }
  if (ignored_events_.count(e.type)) return;
  throw std::runtime_error("aggregate '" + name_ + "' has no handler for event " + quoted(e.type)
                           + " (event " + std::to_string(e.position) + " of "
                           + e.stream.to_string() + "); register it with apply<>() or ignore()");
}

} // namespace annals
