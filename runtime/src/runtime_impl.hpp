#pragma once
// Runtime::Impl: what the facade holds (the actor system, the handles of its
// actors, the registries) and the helpers its calls share. Internal: included
// only by runtime/src/runtime*.cpp, split by the area of the public API.

#include "annals/runtime.hpp"

#include "annals/actors/activation_registry.hpp"
#include "annals/actors/event_bus.hpp"
#include "annals/actors/log_follower.hpp"
#include "annals/actors/instruments.hpp"
#include "annals/actors/projection_supervisor.hpp"
#include "annals/actors/journal.hpp"
#include "annals/actors/messages.hpp"
#include "annals/actors/ordered_relay.hpp"
#include "annals/actors/store_reader.hpp"
#include "annals/persistence/sqlite_event_store.hpp"
#include "detail/ask.hpp"
#include "detail/calls_in_flight.hpp"
#include "metrics_registry_impl.hpp"
#include "projection_faults.hpp"
#include "metrics_snapshot.hpp"
#include "pipeline/command_pipeline.hpp"
#include "pipeline/cluster_dispatcher.hpp"
#include "pipeline/local_dispatcher.hpp"
#include "type_registry.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/send.hpp>

#include <cstdio>
#include <map>
#include <mutex>

namespace annals {

using namespace actors;

namespace detail {

// A registered projection: its supervisor, its injected faults (null until
// a FaultInjector first touches it) and the handles of its queries.
struct RegisteredProjection {
  std::shared_ptr<const ProjectionType> type;
  ProjectionSupervisorActor supervisor;
  ProjectionFaultsPtr faults;
  std::map<std::string, QueryInstruments, std::less<>> queries;
  QueryInstruments unknown_query;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace detail

using namespace detail;

struct Runtime::Impl {
  RuntimeOptions options;
  LoggerPtr log = std::make_shared<Logger>(options.log);
  // The registry in use: the shared one of options.metrics, or one of its own.
  std::shared_ptr<MetricsRegistry> metrics = options.metrics ? options.metrics : make_metrics_registry();
  std::shared_ptr<Instruments> instruments = metrics->impl().instruments;
  // Where commands of no known aggregate or command type are counted.
  CommandInstruments invalid_commands = instruments->command("(invalid)", "(invalid)");
  TypeRegistry types;
  std::shared_ptr<Upcasters> upcasters = std::make_shared<Upcasters>();

  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  EventBusActor bus;
  caf::actor follower;  // the log follower (G9); none when follow_interval is 0
  JournalActor journal;
  std::vector<StoreReaderActor> readers;
  std::mutex projections_mtx;
  std::map<std::string, RegisteredProjection> projections;
  // Calls in flight, so that shutdown waits for them.
  CallsInFlight calls;
  ActivationRegistryActor registry;
  std::vector<OrderedRelayActor> relays;  // for execute_async, chosen by stream
  std::unique_ptr<pipeline::LocalDispatcher> dispatcher;
  std::unique_ptr<pipeline::ClusterDispatcher> cluster_dispatcher;  ///< with options.forwarder
  std::unique_ptr<pipeline::CommandPipeline> commands;

  std::mutex direct_mtx;  // the direct-read connection
  std::unique_ptr<EventStore> direct;

  explicit Impl(RuntimeOptions opts);
  ~Impl();

  ProjectionSupervisorActor projection(const std::string& name) {
    std::lock_guard<std::mutex> lock(projections_mtx);
    auto it = projections.find(name);
    return it == projections.end() ? ProjectionSupervisorActor{} : it->second.supervisor;
  }

  // Where a query's outcome is counted (stable: projections are never removed).
  const QueryInstruments* query_metrics(const std::string& projection, const std::string& query) {
    std::lock_guard<std::mutex> lock(projections_mtx);
    auto it = projections.find(projection);
    if (it == projections.end()) return nullptr;
    auto q = it->second.queries.find(query);
    return q == it->second.queries.end() ? &it->second.unknown_query : &q->second;
  }

  EventStore& direct_store() {
    if (!direct) direct = options.store->connect();
    return *direct;
  }

  // Records in the store that `users` use it: the store tools load the
  // domains that do. Logged, not thrown, if the store fails: it is a record
  // for tools, and the registration itself has worked.
  void record_use(const StoreUsers& users);
};

// The internals' one door for code beside the facade that is not part of
// it (FaultInjector): befriended by Runtime.
struct detail::RuntimeAccess {
  using Impl = Runtime::Impl;
  static Impl& of(Runtime& runtime) { return *runtime.impl_; }
};

} // namespace annals
