// The Runtime facade, read side: projections, queries, dead letters, rebuild, reconcile.
#include "runtime_impl.hpp"

namespace annals {

void Runtime::register_projection(ProjectionType type) {
  auto& im = *impl_;
  const std::string name = type.name();
  {
    std::lock_guard<std::mutex> lock(im.projections_mtx);
    if (im.projections.count(name)) throw std::invalid_argument("projection '" + name + "' is already registered");
    SupervisorSettings settings;
    settings.options = im.options.projections;
    settings.options.max_attempts = std::max(1, settings.options.max_attempts);
    settings.options.catch_up_batch = std::max<std::size_t>(1, settings.options.catch_up_batch);
    settings.store_timeout = im.options.store_timeout;
    auto reader = im.readers[std::hash<std::string>{}("projection:" + name) % im.readers.size()];
    RegisteredProjection reg;
    for (const auto& q : type.query_names()) reg.queries.emplace(q, im.instruments->query(name, q));
    reg.unknown_query = im.instruments->query(name, "(unknown)");
    reg.type = std::make_shared<const ProjectionType>(std::move(type));
    reg.supervisor = spawn_projection_supervisor(*im.sys, reg.type,
                                                 SupervisorDeps{reader, im.journal, im.bus, im.upcasters,
                                                                im.instruments->projection(name), im.log},
                                                 settings);
    im.projections.emplace(name, std::move(reg));
  }
  im.record_use(StoreUsers{{}, {name}});  // a store write: not under the lock that queries take
}

Expected<json::value> Runtime::query(const std::string& projection, const std::string& name, json::object args,
                                     std::int64_t min_position, std::optional<std::chrono::milliseconds> timeout) {
  const auto t0 = std::chrono::steady_clock::now();
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  const QueryInstruments* metrics = impl_->query_metrics(projection, name);
  const auto limit = timeout.value_or(impl_->options.projections.query_timeout);
  auto ticket = impl_->calls.enter();
  if (!ticket) return shutting_down_error();
  QueryRequest q{name, std::move(args), min_position, std::chrono::steady_clock::now() + limit};
  // A little longer than the query's own deadline, so that its precise
  // timeout error (with positions) wins over a generic one.
  auto r = ask<QueryReply>(*impl_->sys, *ticket, target, limit + std::chrono::milliseconds(500), query_atom::value,
                           std::move(q));
  std::optional<Expected<json::value>> out;
  if (!r) out.emplace(impl_->calls.stopping() ? shutting_down_error() : r.error());
  else if (r->error) out.emplace(std::move(*r->error));
  else out.emplace(std::move(r->value));
  metrics->record(out->has_value(), seconds_since(t0));
  // Only now: shutdown frees the instruments once no call is in flight
  // (ThreadSanitizer saw record() race with that).
  ticket->release();
  return std::move(*out);
}

void Runtime::query_async(const std::string& projection, const std::string& name, json::object args,
                          std::int64_t min_position, std::optional<std::chrono::milliseconds> timeout,
                          std::function<void(Expected<json::value>)> done) {
  const auto t0 = std::chrono::steady_clock::now();
  auto target = impl_->projection(projection);
  if (!target) return done(Error{errc::unknown_projection, "no projection '" + projection + "'"});
  const QueryInstruments* metrics = impl_->query_metrics(projection, name);
  const auto limit = timeout.value_or(impl_->options.projections.query_timeout);
  auto ticket = impl_->calls.enter();
  if (!ticket) return done(shutting_down_error());
  // In flight until `done` ran, so that shutdown waits for it like for a blocking query.
  auto flight = std::make_shared<CallsInFlight::Ticket>(std::move(*ticket));
  auto finish = [flight, metrics, t0, done = std::move(done), log = impl_->log](Expected<json::value> out) {
    metrics->record(out.has_value(), seconds_since(t0));
    // An exception must not escape into the actor that runs the callback.
    try {
      done(std::move(out));
    } catch (const std::exception& e) {
      log->log(LogLevel::error, "callback.failed", std::string("a query_async callback threw: ") + e.what());
    } catch (...) {
      log->log(LogLevel::error, "callback.failed", "a query_async callback threw");
    }
    flight->release();
  };
  QueryRequest q{name, std::move(args), min_position, std::chrono::steady_clock::now() + limit};
  // A short-lived actor holds the request: it waits for the reply without a
  // thread and ends after it. The margin as in query(): the projection's own
  // timeout error (with positions) wins over a generic one. The request is a
  // spawn argument, not a capture: CAF 0.17 dereferences a null argument
  // tuple for a function actor spawned without arguments (UBSan reports it).
  caf::actor_system& sys = *impl_->sys;
  auto waiter = [&sys, calls = &impl_->calls, target, limit, finish = std::move(finish)](caf::event_based_actor* self, QueryRequest q) {
    self->request(target, limit + std::chrono::milliseconds(500), query_atom::value, std::move(q))
      .then(
        [finish](QueryReply& r) {
          if (r.error) finish(std::move(*r.error));
          else finish(std::move(r.value));
        },
        [&sys, calls, finish](caf::error& err) {
          // Its projection was stopped by the runtime's shutdown.
          finish(calls->stopping() ? shutting_down_error() : actors::delivery_error(sys, err));
        });
  };
  sys.spawn(std::move(waiter), std::move(q));
}

Expected<ProjectionStatus> Runtime::projection_status(const std::string& projection) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  std::optional<Expected<ProjectionStatus>> out;
  {
    auto r = ask<ProjectionStatus>(*impl_->sys, impl_->calls, target, impl_->options.command_timeout,
                                   status_atom::value);
    if (!r) out.emplace(r.error());
    else out.emplace(std::move(*r));
  }
  if (*out) {
    (*out)->head = head_position();
    (*out)->backlog = std::max<std::int64_t>(0, (*out)->head - (*out)->checkpoint);
  }
  return std::move(*out);
}

std::vector<std::string> Runtime::projection_names() {
  std::lock_guard<std::mutex> lock(impl_->projections_mtx);
  std::vector<std::string> out;
  for (const auto& kv : impl_->projections) out.push_back(kv.first);
  return out;
}

std::map<std::string, std::set<std::string>> Runtime::projection_queries() {
  std::lock_guard<std::mutex> lock(impl_->projections_mtx);
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [name, reg] : impl_->projections)
    for (const auto& q : reg.queries) out[name].insert(q.first);
  return out;
}

std::vector<std::shared_ptr<const ProjectionType>> Runtime::projection_types() {
  std::lock_guard<std::mutex> lock(impl_->projections_mtx);
  std::vector<std::shared_ptr<const ProjectionType>> out;
  for (const auto& [name, reg] : impl_->projections) out.push_back(reg.type);
  return out;
}

std::vector<DeadLetter> Runtime::dead_letters(const std::string& projection) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().dead_letters(projection);
}

std::optional<Error> Runtime::retry_dead_letter(const std::string& projection, std::int64_t position) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  // The supervisor gives up after store_timeout with a sentence saying what
  // is known; this wait is a little longer so that its answer wins.
  auto ack = ask<StoreAck>(*impl_->sys, impl_->calls, target, impl_->options.store_timeout + std::chrono::seconds(1),
                           retry_atom::value, position);
  if (!ack) return ack.error();
  return ack->error;
}

std::optional<Error> Runtime::rebuild_projection(const std::string& projection, std::chrono::milliseconds timeout) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  auto ack = ask<StoreAck>(*impl_->sys, impl_->calls, target, timeout, rebuild_atom::value);
  if (!ack) return ack.error();
  return ack->error;
}

Expected<Reconciliation> Runtime::reconcile_projection(const std::string& projection, std::chrono::milliseconds timeout) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  auto r = ask<ReconcileOutcome>(*impl_->sys, impl_->calls, target, timeout, reconcile_atom::value);
  if (!r) return r.error();
  return std::move(*r);
}

} // namespace annals
