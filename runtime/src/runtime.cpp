// The Runtime facade: starting and stopping the actor system, registration, metrics.
#include "runtime_impl.hpp"

#include "pipeline/stages.hpp"

#include <caf/actor_cast.hpp>

namespace annals {

Runtime::Impl::Impl(RuntimeOptions opts) : options(std::move(opts)) {
  options.metrics = metrics;  // options() tells which registry is in use
  if (!options.store) options.store = sqlite_store(SqliteStoreOptions{});
  if (options.reader_threads == 0) options.reader_threads = 1;
  // Open every connection first: a bad store fails here, before any actor exists.
  auto journal_store = options.store->connect();
  std::vector<std::unique_ptr<EventStore>> reader_stores;
  for (std::size_t i = 0; i < options.reader_threads; ++i) reader_stores.push_back(options.store->connect());
  std::unique_ptr<EventStore> follower_store;
  if (options.projections.follow_interval.count() > 0) follower_store = options.store->connect();

  cfg = std::make_unique<caf::actor_system_config>();
  if (options.worker_threads > 0) cfg->set("scheduler.max-threads", options.worker_threads);
  sys = std::make_unique<caf::actor_system>(*cfg);

  bus = spawn_event_bus(*sys, std::max<std::size_t>(1, options.projections.bus_window));
  journal = spawn_journal(*sys, std::move(journal_store), JournalOptions{options.max_batch},
                         bus, log);
  for (auto& rs : reader_stores) readers.push_back(spawn_store_reader(*sys, std::move(rs)));
  if (follower_store)
    follower = spawn_log_follower(*sys, std::move(follower_store), bus, options.projections.follow_interval, log);
  // RuntimeOptions is the runtime's; the actors get their part of it.
  AggregateSettings settings;
  settings.passivate_after = options.passivate_after;
  settings.store_timeout = options.store_timeout;
  settings.registry_timeout = options.store_timeout;
  settings.max_queued_commands = options.max_queued_per_aggregate;
  settings.conflict_retries = options.conflict_retries;
  registry = spawn_activation_registry(*sys, RegistryDeps{journal, readers, upcasters, log, options.shard_ownership}, settings,
                                       options.max_active_aggregates);
  const std::size_t n_relays = std::max<std::size_t>(2, sys->scheduler().num_workers());
  for (std::size_t i = 0; i < n_relays; ++i) relays.push_back(spawn_ordered_relay(*sys, registry));
  dispatcher = std::make_unique<pipeline::LocalDispatcher>(*sys, registry, relays);
  if (options.forwarder) cluster_dispatcher = std::make_unique<pipeline::ClusterDispatcher>(*dispatcher, options.forwarder);
  std::vector<std::unique_ptr<pipeline::CommandStage>> stages;
  stages.push_back(pipeline::record_metrics(invalid_commands));
  stages.push_back(pipeline::validate_envelope(options.limits));
  stages.push_back(pipeline::resolve_aggregate(types));
  stages.push_back(pipeline::authorize(options.authorize));
  stages.push_back(pipeline::assign_ids());
  stages.push_back(pipeline::audit(log, options.audit, [this](AuditRecord rec) {
    caf::anon_send(journal, audit_atom::value, std::move(rec));
  }));
  commands = std::make_unique<pipeline::CommandPipeline>(
    std::move(stages),
    cluster_dispatcher ? static_cast<pipeline::CommandDispatcher&>(*cluster_dispatcher) : *dispatcher, calls,
    [d = dispatcher.get()](const StreamId& s, CommandResult r, pipeline::ResultHandler done) {
      d->hand_back(s, std::move(r), std::move(done));
    },
    log);
  release_caf_logger_of_this_thread();  // the runtime may be destroyed on another thread
  log->log(LogLevel::info, "runtime.started", "annals runtime started on " + options.store->describe(),
           {{"store", options.store->describe()}, {"workers", sys->scheduler().num_workers()},
            {"readers", readers.size()}, {"audit", options.audit}, {"authorization", bool(options.authorize)}});
}


Runtime::Impl::~Impl() {
  calls.refuse_new();
  // Projections first: a query waiting for a position is answered now
  // (shutting_down) rather than at its deadline; commands never wait for a
  // projection, so the ones in flight still finish.
  {
    // Kept until no call is in flight: the calls record into their queries' instruments.
    std::lock_guard<std::mutex> lock(projections_mtx);
    for (auto& kv : projections) caf::anon_send_exit(kv.second.supervisor, caf::exit_reason::user_shutdown);
  }
  calls.wait_all(std::chrono::seconds(5), [this](std::size_t n) {
    log->log(LogLevel::warn, "runtime.stopping",
             "the runtime is stopping and waits for " + std::to_string(n)
               + " call(s) in flight; each ends at its own deadline at the latest",
             {{"in_flight", n}});
  });
  {
    std::lock_guard<std::mutex> lock(projections_mtx);
    projections.clear();
  }
  // Aggregates next (no new appends), then the journal commits what it
  // holds, then the readers.
  for (auto& r : relays) caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(registry, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
  for (auto& r : readers) caf::anon_send_exit(r, caf::exit_reason::user_shutdown);
  if (follower) caf::anon_send_exit(follower, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(bus, caf::exit_reason::user_shutdown);
  follower = nullptr;
  bus = nullptr;
  relays.clear();
  registry = nullptr;
  journal = nullptr;
  readers.clear();
  sys.reset();  // waits for every actor
  cfg.reset();
  // A shared registry outlives us: its gauges must not go on describing us.
  instruments->zero_gauges();
  log->log(LogLevel::info, "runtime.stopped", "annals runtime stopped", {{"store", options.store->describe()}});
}


Runtime::Runtime(RuntimeOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Runtime::~Runtime() = default;

void Runtime::Impl::record_use(const StoreUsers& users) {
  try {
    std::lock_guard<std::mutex> lock(direct_mtx);
    direct_store().record_users(users);
  } catch (const std::exception& e) {
    log->log(LogLevel::warn, "store.error", std::string("could not record what uses the store: ") + e.what());
  }
}

void Runtime::register_aggregate(AggregateType type) {
  const std::string name = type.name();
  impl_->types.add(std::move(type), *impl_->instruments);
  impl_->record_use(StoreUsers{{name}, {}});
}

void Runtime::register_upcaster(const std::string& aggregate, const std::string& event_type, int from_version,
                                Upcasters::Fn fn) {
  impl_->upcasters->add(aggregate, event_type, from_version, std::move(fn));
}

const RuntimeOptions& Runtime::options() const { return impl_->options; }

std::string Runtime::metrics_text() { return impl_->metrics->text(); }

MetricsSnapshot Runtime::metrics() { return impl_->metrics->snapshot(); }

std::map<std::string, std::set<std::string>> Runtime::aggregate_commands() {
  return impl_->types.commands_by_type();
}

std::map<std::string, std::set<std::string>> Runtime::aggregate_events() { return impl_->types.events_by_type(); }

std::vector<std::shared_ptr<const AggregateType>> Runtime::aggregate_types() { return impl_->types.all(); }

} // namespace annals
