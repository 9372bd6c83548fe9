#pragma once
// Runtime::Impl: what the facade holds (the actor system, the handles of its
// actors, the registries) and the helpers its calls share. Internal: included
// only by runtime/src/runtime*.cpp, split by the area of the public API.

#include "annals/runtime.hpp"

#include "annals/actors/command_gateway.hpp"
#include "annals/actors/command_router.hpp"
#include "annals/actors/event_bus.hpp"
#include "annals/actors/instruments.hpp"
#include "annals/actors/projection_supervisor.hpp"
#include "annals/actors/journal.hpp"
#include "annals/actors/messages.hpp"
#include "annals/actors/store_reader.hpp"
#include "annals/persistence/sqlite_event_store.hpp"
#include "metrics_registry_impl.hpp"
#include "projection_faults.hpp"
#include "metrics_snapshot.hpp"

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>

#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>

namespace annals {

using namespace actors;

namespace detail {

// Aggregate types by name, with their metric handles; read on every command
// from any thread.
class TypeRegistry {
public:
  void add(AggregateType t, Instruments& instruments) {
    std::unique_lock<std::shared_mutex> lock(mtx_);
    auto name = t.name();
    if (types_.count(name))
      throw std::invalid_argument("aggregate type '" + name + "' is already registered");
    auto reg = std::make_shared<RegisteredAggregate>();
    reg->instruments = instruments.aggregate(name);
    for (const auto& command : t.command_types()) reg->commands.emplace(command, instruments.command(name, command));
    reg->type = std::make_shared<const AggregateType>(std::move(t));
    types_.emplace(name, std::move(reg));
  }
  RegisteredAggregatePtr find(const std::string& name) const {
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

private:
  mutable std::shared_mutex mtx_;
  std::map<std::string, RegisteredAggregatePtr, std::less<>> types_;
};

// A registered projection: its supervisor, its injected faults (null until
// a FaultInjector first touches it) and the handles of its queries.
struct RegisteredProjection {
  projection_supervisor_actor supervisor;
  ProjectionFaultsPtr faults;
  std::map<std::string, QueryInstruments, std::less<>> queries;
  QueryInstruments unknown_query;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline Error from_caf_error(caf::actor_system& sys, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    return Error{errc::timeout, "no result within the time limit; the command may still commit "
                                "(retry with the same idempotency key to find out)"};
  return Error{errc::internal_error, "the runtime could not deliver the command: " + sys.render(err)};
}

} // namespace detail

using namespace detail;

struct Runtime::Impl {
  RuntimeOptions options;
  LoggerPtr log = std::make_shared<Logger>(options.log);
  // The registry in use: the shared one of options.metrics, or one of its own.
  std::shared_ptr<MetricsRegistry> metrics = options.metrics ? options.metrics : make_metrics_registry();
  std::shared_ptr<Instruments> instruments = metrics->impl().instruments;
  CommandInstruments invalid_commands = instruments->command("(invalid)", "(invalid)");
  TypeRegistry types;
  std::shared_ptr<Upcasters> upcasters = std::make_shared<Upcasters>();

  std::unique_ptr<caf::actor_system_config> cfg;
  std::unique_ptr<caf::actor_system> sys;
  event_bus_actor bus;
  JournalActor journal;
  std::vector<StoreReaderActor> readers;
  std::mutex projections_mtx;
  std::map<std::string, RegisteredProjection> projections;
  caf::actor router;
  std::vector<caf::actor> gateways;  // for execute_async, chosen by stream

  std::mutex direct_mtx;  // the direct-read connection
  std::unique_ptr<EventStore> direct;

  // Calls in flight, so that shutdown waits for them (a scoped_actor alive
  // while the actor system is destroyed would hang it).
  std::mutex flight_mtx;
  std::condition_variable flight_cv;
  std::size_t in_flight = 0;
  bool stopping = false;

  explicit Impl(RuntimeOptions opts);
  ~Impl();

  bool enter() {
    std::lock_guard<std::mutex> lock(flight_mtx);
    if (stopping) return false;
    ++in_flight;
    return true;
  }
  void leave() {
    std::lock_guard<std::mutex> lock(flight_mtx);
    if (--in_flight == 0) flight_cv.notify_all();
  }

  // Checks done on the caller's thread, before anything is sent: a bad or
  // denied command never reaches an aggregate. Sets `metrics` to where the
  // command's outcome is counted.
  std::optional<CommandResult> precheck(Command& c, const CommandInstruments*& metrics) {
    metrics = &invalid_commands;
    const StreamId stream = c.stream();
    if (auto err = validate_envelope(c, options.limits)) return CommandResult::reject(stream, *err);
    auto registered = types.find(c.aggregate);
    if (!registered)
      return CommandResult::reject(stream, Error{errc::unknown_aggregate, "no aggregate type '" + c.aggregate + "'"});
    auto handles = registered->commands.find(c.command);
    if (handles == registered->commands.end())
      return CommandResult::reject(stream, Error{errc::unknown_command, "aggregate '" + c.aggregate
                                                                          + "' has no command '" + c.command + "'"});
    metrics = &handles->second;  // registered types are never removed: the pointer stays valid
    if (options.authorize) {
      AuthDecision d;
      try {
        d = options.authorize(c.metadata.principal, c);
      } catch (const std::exception& e) {
        d = AuthDecision::deny(std::string("the authorization policy failed: ") + e.what());
      }
      if (!d.allowed)
        return CommandResult::reject(stream, Error{errc::forbidden, d.reason.empty() ? "denied" : d.reason});
    }
    if (c.command_id.empty()) c.command_id = make_uuid();
    // A command that starts a conversation correlates with itself.
    if (c.metadata.correlation_id.empty()) c.metadata.correlation_id = c.command_id;
    return std::nullopt;
  }

  projection_supervisor_actor projection(const std::string& name) {
    std::lock_guard<std::mutex> lock(projections_mtx);
    auto it = projections.find(name);
    return it == projections.end() ? projection_supervisor_actor{} : it->second.supervisor;
  }

  // The audit line of a command's outcome, unless the journal already wrote
  // it with the command's events. Queued for the journal's next batch.
  // Logs the outcomes operators must hear about: denials and failures.
  void log_outcome(const AuditRecord* who, const CommandResult& r) {
    if (r.accepted() || (r.rejected() && r.code() != errc::forbidden)) return;
    const LogLevel level = r.rejected() ? LogLevel::warn : LogLevel::error;
    if (!log->enabled(level)) return;
    json::object f{{"aggregate", r.aggregate}, {"id", r.id}, {"code", r.code()}};
    if (who) {
      f["command"] = who->command;
      f["principal"] = who->principal;
      f["correlation_id"] = who->correlation_id;
      f["command_id"] = who->command_id;
    }
    log->log(level, r.rejected() ? "command.denied" : "command.failed", r.error ? r.error->message : "", std::move(f));
  }

  void audit(const AuditRecord* skeleton, const CommandResult& r) {
    log_outcome(skeleton, r);
    if (!options.audit || !skeleton) return;
    if (r.accepted() && !r.replayed && !r.events.empty()) return;  // written in the events' transaction
    AuditRecord rec = *skeleton;
    rec.at_us = now_us();
    if (r.accepted()) rec.outcome = r.replayed ? "replayed" : "accepted";
    else if (r.code() == errc::forbidden) rec.outcome = "denied";
    else rec.outcome = r.rejected() ? "rejected" : "failed";
    if (r.error) {
      rec.code = r.error->code;
      rec.message = r.error->message;
    }
    rec.position = r.position;
    caf::anon_send(journal, audit_atom::value, std::move(rec));
  }

  std::optional<AuditRecord> audit_skeleton(const Command& c) const {
    AuditRecord rec;
    rec.principal = c.metadata.principal;
    rec.correlation_id = c.metadata.correlation_id;
    rec.command_id = c.command_id;
    rec.stream = c.stream();
    rec.command = c.command;
    return rec;
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
};

// The internals' one door for code beside the facade that is not part of
// it (FaultInjector): befriended by Runtime.
struct detail::RuntimeAccess {
  using Impl = Runtime::Impl;
  static Impl& of(Runtime& runtime) { return *runtime.impl_; }
};

} // namespace annals
