#pragma once
// The command router: finds the actor of a command's aggregate, activating
// it on first use (like Orleans' virtual actors), and hands the command over
// (the aggregate answers the caller directly). It forgets aggregates that
// passivate or stop.
//
// Protocol:  (execute_atom, CommandEnvelope) -> CommandResult (delegated)
//            (inspect_atom, StreamId)        -> AggregateView (delegated)
//            (count_atom)                    -> std::size_t active aggregates

#include "annals/actors/aggregate_actor.hpp"
#include "annals/actors/instruments.hpp"

#include <caf/actor.hpp>

#include <functional>
#include <map>
#include <vector>

namespace annals::actors {

/// A registered aggregate type with its metric handles.
struct RegisteredAggregate {
  AggregateTypePtr type;
  AggregateInstruments instruments;
  std::map<std::string, CommandInstruments, std::less<>> commands;  ///< by command type
};
using RegisteredAggregatePtr = std::shared_ptr<const RegisteredAggregate>;

/// Looks an aggregate type up by name (nullptr when unknown); thread-safe.
using TypeLookup = std::function<RegisteredAggregatePtr(const std::string&)>;

struct RouterDeps {
  JournalActor journal;
  std::vector<StoreReaderActor> readers;  ///< one is chosen per stream
  TypeLookup types;
  UpcastersPtr upcasters;
  LoggerPtr log;
};

caf::actor spawn_command_router(caf::actor_system& sys, RouterDeps deps, AggregateSettings settings);

} // namespace annals::actors
