#include "annals/runtime.hpp"

#include "annals/actors/command_gateway.hpp"
#include "annals/actors/command_router.hpp"
#include "annals/actors/event_bus.hpp"
#include "annals/actors/instruments.hpp"
#include "annals/actors/projection_supervisor.hpp"
#include "annals/actors/journal.hpp"
#include "annals/actors/messages.hpp"
#include "annals/actors/projection_faults.hpp"
#include "annals/actors/store_reader.hpp"
#include "annals/persistence/sqlite_event_store.hpp"
#include "metrics_registry_impl.hpp"
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

namespace {

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

// A registered projection: its supervisor, its injected faults and the
// handles of its queries.
struct RegisteredProjection {
  caf::actor supervisor;
  ProjectionFaultsPtr faults;
  std::map<std::string, QueryInstruments, std::less<>> queries;
  QueryInstruments unknown_query;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

Error from_caf_error(caf::actor_system& sys, const caf::error& err) {
  if (err == caf::sec::request_timeout)
    return Error{errc::timeout, "no result within the time limit; the command may still commit "
                                "(retry with the same idempotency key to find out)"};
  return Error{errc::internal_error, "the runtime could not deliver the command: " + sys.render(err)};
}

} // namespace

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
  caf::actor bus;
  caf::actor journal;
  std::vector<caf::actor> readers;
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

  explicit Impl(RuntimeOptions opts) : options(std::move(opts)) {
    options.metrics = metrics;  // options() tells which registry is in use
    if (!options.store) options.store = sqlite_store(SqliteStoreOptions{});
    if (options.reader_threads == 0) options.reader_threads = 1;
    // Open every connection first: a bad store fails here, before any actor exists.
    auto journal_store = options.store->connect();
    std::vector<std::unique_ptr<EventStore>> reader_stores;
    for (std::size_t i = 0; i < options.reader_threads; ++i) reader_stores.push_back(options.store->connect());

    cfg = std::make_unique<caf::actor_system_config>();
    if (options.worker_threads > 0) cfg->set("scheduler.max-threads", options.worker_threads);
    sys = std::make_unique<caf::actor_system>(*cfg);

    bus = spawn_event_bus(*sys, std::max<std::size_t>(1, options.projections.bus_window));
    journal = spawn_journal(*sys, std::move(journal_store), JournalOptions{options.max_batch}, bus, log);
    for (auto& rs : reader_stores) readers.push_back(spawn_store_reader(*sys, std::move(rs)));
    AggregateSettings settings;
    settings.passivate_after = options.passivate_after;
    settings.journal_timeout = options.store_timeout;
    settings.max_queued_commands = options.max_queued_per_aggregate;
    settings.audit = options.audit;
    router = spawn_command_router(*sys, RouterDeps{journal, readers, [this](const std::string& n) {
                                                     return types.find(n);
                                                   }, upcasters, log},
                                  settings);
    const std::size_t n_gateways = std::max<std::size_t>(2, sys->scheduler().num_workers());
    for (std::size_t i = 0; i < n_gateways; ++i) gateways.push_back(spawn_command_gateway(*sys, router));
    log->log(LogLevel::info, "runtime.started", "annals runtime started on " + options.store->describe(),
             {{"store", options.store->describe()}, {"workers", sys->scheduler().num_workers()},
              {"readers", readers.size()}, {"audit", options.audit}, {"authorization", bool(options.authorize)}});
  }

  ~Impl() {
    {
      std::unique_lock<std::mutex> lock(flight_mtx);
      stopping = true;
      flight_cv.wait_for(lock, options.command_timeout + std::chrono::seconds(1),
                         [&] { return in_flight == 0; });
    }
    // Aggregates first (no new appends), then the journal commits what it
    // holds, then the readers.
    for (auto& g : gateways) caf::anon_send_exit(g, caf::exit_reason::user_shutdown);
    {
      std::lock_guard<std::mutex> lock(projections_mtx);
      for (auto& kv : projections) caf::anon_send_exit(kv.second.supervisor, caf::exit_reason::user_shutdown);
      projections.clear();
    }
    caf::anon_send_exit(router, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
    for (auto& r : readers) caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(bus, caf::exit_reason::user_shutdown);
    bus = nullptr;
    gateways.clear();
    router = nullptr;
    journal = nullptr;
    readers.clear();
    sys.reset();  // waits for every actor
    cfg.reset();
    // A shared registry outlives us: its gauges must not go on describing us.
    instruments->zero_gauges();
    log->log(LogLevel::info, "runtime.stopped", "annals runtime stopped", {{"store", options.store->describe()}});
  }

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

  caf::actor projection(const std::string& name) {
    std::lock_guard<std::mutex> lock(projections_mtx);
    auto it = projections.find(name);
    return it == projections.end() ? caf::actor{} : it->second.supervisor;
  }

  // Changes a projection's injected faults, tells its projector and logs it.
  std::optional<Error> change_faults(const std::string& name, const std::function<void(ProjectionFaults&)>& change,
                                     const std::string& description, json::object fields) {
    caf::actor supervisor;
    ProjectionFaultsPtr faults;
    {
      std::lock_guard<std::mutex> lock(projections_mtx);
      auto it = projections.find(name);
      if (it == projections.end()) return Error{errc::unknown_projection, "no projection '" + name + "'"};
      supervisor = it->second.supervisor;
      faults = it->second.faults;
    }
    change(*faults);
    caf::anon_send(supervisor, faults_atom::value);  // a delay that changed applies to queued events
    fields["projection"] = name;
    log->log(LogLevel::info, "projection.fault_injected", "projection '" + name + "': " + description,
             std::move(fields));
    return std::nullopt;
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

Runtime::Runtime(RuntimeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Runtime::~Runtime() = default;

void Runtime::register_aggregate(AggregateType type) { impl_->types.add(std::move(type), *impl_->instruments); }

void Runtime::register_upcaster(const std::string& aggregate, const std::string& event_type, int from_version,
                                Upcasters::Fn fn) {
  impl_->upcasters->add(aggregate, event_type, from_version, std::move(fn));
}

const RuntimeOptions& Runtime::options() const { return impl_->options; }

CommandResult Runtime::execute(Command command) {
  return execute(std::move(command), impl_->options.command_timeout);
}

CommandResult Runtime::execute(Command command, std::chrono::milliseconds timeout) {
  const auto t0 = std::chrono::steady_clock::now();
  const CommandInstruments* metrics = nullptr;
  if (auto early = impl_->precheck(command, metrics)) {
    metrics->record(*early, seconds_since(t0));
    auto skeleton = impl_->audit_skeleton(command);
    impl_->audit(skeleton ? &*skeleton : nullptr, *early);
    return *early;
  }
  const auto skeleton = impl_->audit_skeleton(command);
  const StreamId stream = command.stream();
  if (!impl_->enter())
    return CommandResult::fail(stream, Error{errc::shutting_down, "the runtime is shutting down"});
  CommandResult out;
  {
    caf::scoped_actor self{*impl_->sys};
    CommandEnvelope env{std::move(command), std::chrono::steady_clock::now() + timeout};
    self->request(impl_->router, timeout, execute_atom::value, std::move(env))
      .receive([&](CommandResult& r) { out = std::move(r); },
               [&](caf::error& e) { out = CommandResult::fail(stream, from_caf_error(*impl_->sys, e)); });
  }
  metrics->record(out, seconds_since(t0));
  impl_->audit(skeleton ? &*skeleton : nullptr, out);  // before leave(): the journal is still there
  impl_->leave();
  return out;
}

CommandResult Runtime::execute_json(std::string_view json_text) {
  const auto t0 = std::chrono::steady_clock::now();
  auto cmd = parse_command(json_text, impl_->options.limits);
  if (!cmd) {
    auto r = CommandResult::reject(StreamId{}, cmd.error());
    impl_->invalid_commands.record(r, seconds_since(t0));
    AuditRecord unparsed;
    impl_->audit(&unparsed, r);
    return r;
  }
  return execute(std::move(*cmd));
}

void Runtime::execute_async(Command command, std::function<void(CommandResult)> done) {
  const auto t0 = std::chrono::steady_clock::now();
  const CommandInstruments* metrics = nullptr;
  auto early = impl_->precheck(command, metrics);
  auto skeleton = impl_->audit_skeleton(command);
  const StreamId stream = command.stream();
  // Counted in flight until its callback ran, refused commands included, so
  // shutdown never stops a gateway that still holds a result.
  if (!impl_->enter())
    return done(CommandResult::fail(stream, Error{errc::shutting_down, "the runtime is shutting down"}));
  Impl* impl = impl_.get();
  auto callback = std::make_shared<const std::function<void(CommandResult)>>(
    [impl, metrics, t0, skeleton = std::move(skeleton), done = std::move(done)](CommandResult r) {
      metrics->record(r, seconds_since(t0));
      impl->audit(skeleton ? &*skeleton : nullptr, r);
      // An exception must not escape into the actor that runs the callback.
      try {
        done(std::move(r));
      } catch (const std::exception& e) {
        impl->log->log(LogLevel::error, "callback.failed", std::string("an execute_async callback threw: ") + e.what());
      } catch (...) {
        impl->log->log(LogLevel::error, "callback.failed", "an execute_async callback threw");
      }
      impl->leave();
    });
  // Both paths go through the stream's gateway: callbacks run on a runtime
  // thread, and one thread's commands to one aggregate keep their order.
  const auto& gw = impl_->gateways[std::hash<std::string>{}(stream.to_string()) % impl_->gateways.size()];
  if (early) {
    caf::anon_send(gw, std::move(*early), std::move(callback));
    return;
  }
  CommandEnvelope env{std::move(command), std::chrono::steady_clock::now() + impl_->options.command_timeout};
  caf::anon_send(gw, execute_atom::value, std::move(env), std::move(callback));
}

std::future<CommandResult> Runtime::execute_async(Command command) {
  auto p = std::make_shared<std::promise<CommandResult>>();
  auto f = p->get_future();
  execute_async(std::move(command), [p](CommandResult r) { p->set_value(std::move(r)); });
  return f;
}

void Runtime::register_projection(ProjectionType type) {
  auto& im = *impl_;
  std::lock_guard<std::mutex> lock(im.projections_mtx);
  if (im.projections.count(type.name()))
    throw std::invalid_argument("projection '" + type.name() + "' is already registered");
  const auto& po = im.options.projections;
  SupervisorSettings settings;
  settings.initial_backoff = po.initial_backoff;
  settings.backoff_factor = po.backoff_factor;
  settings.max_backoff = po.max_backoff;
  settings.reset_after = po.reset_after;
  settings.max_attempts = std::max(1, po.max_attempts);
  settings.projector.catch_up_batch = std::max<std::size_t>(1, po.catch_up_batch);
  settings.projector.store_timeout = im.options.store_timeout;
  auto name = type.name();
  auto reader = im.readers[std::hash<std::string>{}("projection:" + name) % im.readers.size()];
  RegisteredProjection reg;
  reg.faults = std::make_shared<ProjectionFaults>();
  for (const auto& q : type.query_names()) reg.queries.emplace(q, im.instruments->query(name, q));
  reg.unknown_query = im.instruments->query(name, "(unknown)");
  reg.supervisor = spawn_projection_supervisor(*im.sys, std::make_shared<const ProjectionType>(std::move(type)),
                                               SupervisorDeps{reader, im.journal, im.bus, im.upcasters,
                                                              im.instruments->projection(name), im.log, reg.faults},
                                               settings);
  im.projections.emplace(name, std::move(reg));
}

Expected<json::value> Runtime::query(const std::string& projection, const std::string& name, json::object args,
                                     std::int64_t min_position, std::optional<std::chrono::milliseconds> timeout) {
  const auto t0 = std::chrono::steady_clock::now();
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  const QueryInstruments* metrics = impl_->query_metrics(projection, name);
  const auto limit = timeout.value_or(impl_->options.projections.query_timeout);
  if (!impl_->enter()) return Error{errc::shutting_down, "the runtime is shutting down"};
  std::optional<Expected<json::value>> out;
  {
    caf::scoped_actor self{*impl_->sys};
    QueryRequest q{name, std::move(args), min_position, std::chrono::steady_clock::now() + limit};
    // A little longer than the query's own deadline, so that its precise
    // timeout error (with positions) wins over a generic one.
    self->request(target, limit + std::chrono::milliseconds(500), query_atom::value, std::move(q))
      .receive(
        [&](QueryReply& r) {
          if (r.error) out.emplace(std::move(*r.error));
          else out.emplace(std::move(r.value));
        },
        [&](caf::error& e) { out.emplace(from_caf_error(*impl_->sys, e)); });
  }
  impl_->leave();
  metrics->record(out->has_value(), seconds_since(t0));
  return std::move(*out);
}

Expected<ProjectionStatus> Runtime::projection_status(const std::string& projection) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  if (!impl_->enter()) return Error{errc::shutting_down, "the runtime is shutting down"};
  std::optional<Expected<ProjectionStatus>> out;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(target, impl_->options.command_timeout, status_atom::value)
      .receive(
        [&](ProjectionInfo& info) {
          ProjectionStatus st;
          st.name = info.name;
          st.running = info.running;
          st.checkpoint = info.checkpoint;
          st.restarts = info.restarts;
          st.parked = info.parked;
          st.backoff = info.backoff;
          st.last_error = info.last_error;
          out.emplace(std::move(st));
        },
        [&](caf::error& e) { out.emplace(from_caf_error(*impl_->sys, e)); });
  }
  impl_->leave();
  if (*out) {
    (*out)->head = head_position();
    (*out)->backlog = std::max<std::int64_t>(0, (*out)->head - (*out)->checkpoint);
  }
  return std::move(*out);
}

std::string Runtime::metrics_text() { return impl_->metrics->text(); }

MetricsSnapshot Runtime::metrics() { return impl_->metrics->snapshot(); }

std::map<std::string, std::set<std::string>> Runtime::aggregate_commands() {
  return impl_->types.commands_by_type();
}

std::vector<std::string> Runtime::projection_names() {
  std::lock_guard<std::mutex> lock(impl_->projections_mtx);
  std::vector<std::string> out;
  for (const auto& kv : impl_->projections) out.push_back(kv.first);
  return out;
}

std::vector<DeadLetter> Runtime::dead_letters(const std::string& projection) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().dead_letters(projection);
}

std::optional<Error> Runtime::retry_dead_letter(const std::string& projection, std::int64_t position) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  if (!impl_->enter()) return Error{errc::shutting_down, "the runtime is shutting down"};
  std::optional<Error> out;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(target, impl_->options.store_timeout, retry_atom::value, position)
      .receive([&](StoreAck& ack) { out = ack.error; },
               [&](caf::error& e) { out = from_caf_error(*impl_->sys, e); });
  }
  impl_->leave();
  return out;
}

std::optional<Error> Runtime::rebuild_projection(const std::string& projection, std::chrono::milliseconds timeout) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  if (!impl_->enter()) return Error{errc::shutting_down, "the runtime is shutting down"};
  std::optional<Error> out;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(target, timeout, rebuild_atom::value)
      .receive([&](StoreAck& ack) { out = ack.error; },
               [&](caf::error& e) { out = from_caf_error(*impl_->sys, e); });
  }
  impl_->leave();
  return out;
}

Expected<Reconciliation> Runtime::reconcile_projection(const std::string& projection, std::chrono::milliseconds timeout) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  if (!impl_->enter()) return Error{errc::shutting_down, "the runtime is shutting down"};
  std::optional<Expected<Reconciliation>> out;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(target, timeout, reconcile_atom::value)
      .receive(
        [&](ReconcileReport& r) {
          if (r.error) out.emplace(std::move(*r.error));
          else out.emplace(Reconciliation{r.differences.empty(), r.position, std::move(r.differences)});
        },
        [&](caf::error& e) { out.emplace(from_caf_error(*impl_->sys, e)); });
  }
  impl_->leave();
  return std::move(*out);
}

void Runtime::crash_projection(const std::string& projection) {
  if (auto target = impl_->projection(projection)) caf::anon_send(target, crash_atom::value);
}

std::optional<Error> Runtime::fail_projection_on(const std::string& projection, EventMatch match, int times) {
  const auto filter = match.to_string();
  json::object fields{{"fault", "fail"}, {"match", filter}, {"times", times}};
  const auto description = times > 0 ? "fails " + std::to_string(times) + " time(s) on the next event matching " + filter
                                      : std::string("fail fault removed");
  return impl_->change_faults(projection, [&](ProjectionFaults& f) { f.fail_on(std::move(match), times); },
                              description, std::move(fields));
}

std::optional<Error> Runtime::delay_projection(const std::string& projection, std::chrono::milliseconds per_event) {
  per_event = std::max(per_event, std::chrono::milliseconds(0));
  json::object fields{{"fault", "delay"}, {"delay_ms", per_event.count()}};
  const auto description = per_event.count() > 0
                              ? "applies each event " + std::to_string(per_event.count()) + " ms late"
                              : std::string("delay removed");
  return impl_->change_faults(projection, [&](ProjectionFaults& f) { f.set_delay(per_event); }, description,
                              std::move(fields));
}

std::optional<Error> Runtime::clear_projection_faults(const std::string& projection) {
  return impl_->change_faults(projection, [](ProjectionFaults& f) { f.clear(); }, "faults cleared",
                              {{"fault", "clear"}});
}

Expected<AggregateInspection> Runtime::inspect(const std::string& aggregate, const std::string& id) {
  if (!impl_->types.find(aggregate))
    return Error{errc::unknown_aggregate, "no aggregate type '" + aggregate + "'"};
  if (!impl_->enter()) return Error{errc::shutting_down, "the runtime is shutting down"};
  std::optional<Expected<AggregateInspection>> out;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(impl_->router, impl_->options.command_timeout, inspect_atom::value, StreamId{aggregate, id})
      .receive(
        [&](AggregateView& v) {
          if (v.error) out.emplace(*v.error);
          else out.emplace(AggregateInspection{v.version, std::move(v.state)});
        },
        [&](caf::error& e) { out.emplace(from_caf_error(*impl_->sys, e)); });
  }
  impl_->leave();
  return std::move(*out);
}

std::size_t Runtime::active_aggregates() {
  if (!impl_->enter()) return 0;
  std::size_t n = 0;
  {
    caf::scoped_actor self{*impl_->sys};
    self->request(impl_->router, impl_->options.command_timeout, count_atom::value)
      .receive([&](std::size_t x) { n = x; }, [&](caf::error&) {});
  }
  impl_->leave();
  return n;
}

std::vector<AuditRecord> Runtime::audit_log(std::int64_t from_id, std::size_t max_count) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().audit_log(from_id, max_count);
}

std::vector<Event> Runtime::read_stream(const StreamId& stream, std::int64_t from_version,
                                        std::size_t max_count) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().read_stream(stream, from_version, max_count);
}

std::vector<Event> Runtime::read_all(std::int64_t from_position, std::size_t max_count) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().read_all(from_position, max_count);
}

std::int64_t Runtime::head_position() {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().head_position();
}

} // namespace annals
