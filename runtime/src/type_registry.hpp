#pragma once
// The registered aggregate types by name, with their metric handles; read on
// every command from any thread. Internal to the runtime; no CAF here.

#include "annals/actors/registered_aggregate.hpp"

#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <string>

namespace annals::detail {

class TypeRegistry {
public:
  void add(AggregateType t, actors::Instruments& instruments) {
    std::unique_lock<std::shared_mutex> lock(mtx_);
    auto name = t.name();
    if (types_.count(name))
      throw std::invalid_argument("aggregate type '" + name + "' is already registered");
    auto reg = std::make_shared<actors::RegisteredAggregate>();
    reg->instruments = instruments.aggregate(name);
    for (const auto& command : t.command_types()) reg->commands.emplace(command, instruments.command(name, command));
    reg->type = std::make_shared<const AggregateType>(std::move(t));
    types_.emplace(name, std::move(reg));
  }
  /// nullptr when unknown (the pipeline's resolve stage says so to callers).
  actors::RegisteredAggregatePtr find(const std::string& name) const {
    std::shared_lock<std::shared_mutex> lock(mtx_);
    auto it = types_.find(name);
    return it == types_.end() ? nullptr : it->second;
  }
  std::map<std::string, std::set<std::string>> commands_by_type() const {
    std::shared_lock<std::shared_mutex> lock(mtx_);
    std::map<std::string, std::set<std::string>> out;
    for (const auto& [name, reg] : types_) out[name] = reg->type->command_types();
    return out;
  }

  std::map<std::string, std::set<std::string>> events_by_type() const {
    std::shared_lock<std::shared_mutex> lock(mtx_);
    std::map<std::string, std::set<std::string>> out;
    for (const auto& [name, reg] : types_) out[name] = reg->type->event_types();
    return out;
  }

  std::vector<std::shared_ptr<const AggregateType>> all() const {
    std::shared_lock<std::shared_mutex> lock(mtx_);
    std::vector<std::shared_ptr<const AggregateType>> out;
    for (const auto& [name, reg] : types_) out.push_back(reg->type);
    return out;
  }

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, actors::RegisteredAggregatePtr, std::less<>> types_;
};

} // namespace annals::detail
