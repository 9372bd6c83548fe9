#pragma once
// A registered aggregate type as the command path carries it: the type and
// its metric handles. The runtime resolves a command's aggregate type once,
// before dispatch, and hands this to the activation registry with the
// command, so nothing after the pipeline looks types up again. No CAF here.

#include "annals/actors/instruments.hpp"
#include "annals/aggregate_type.hpp"

#include <map>
#include <memory>
#include <string>

namespace annals::actors {

using AggregateTypePtr = std::shared_ptr<const AggregateType>;

struct RegisteredAggregate {
  AggregateTypePtr type;
  AggregateInstruments instruments;
  std::map<std::string, CommandInstruments, std::less<>> commands;  ///< by command type
};
using RegisteredAggregatePtr = std::shared_ptr<const RegisteredAggregate>;

} // namespace annals::actors
