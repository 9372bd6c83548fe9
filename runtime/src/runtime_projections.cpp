// The Runtime facade, read side: projections, queries, dead letters, rebuild, reconcile, fault injection.
#include "runtime_impl.hpp"

namespace annals {

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
  auto ticket = impl_->calls.enter();
  if (!ticket) return shutting_down_error();
  QueryRequest q{name, std::move(args), min_position, std::chrono::steady_clock::now() + limit};
  // A little longer than the query's own deadline, so that its precise
  // timeout error (with positions) wins over a generic one.
  auto r = ask<QueryReply>(*impl_->sys, *ticket, target, limit + std::chrono::milliseconds(500), query_atom::value,
                           std::move(q));
  ticket->release();
  std::optional<Expected<json::value>> out;
  if (!r) out.emplace(r.error());
  else if (r->error) out.emplace(std::move(*r->error));
  else out.emplace(std::move(r->value));
  metrics->record(out->has_value(), seconds_since(t0));
  return std::move(*out);
}

Expected<ProjectionStatus> Runtime::projection_status(const std::string& projection) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  std::optional<Expected<ProjectionStatus>> out;
  {
    auto r = ask<ProjectionInfo>(*impl_->sys, impl_->calls, target, impl_->options.command_timeout,
                                 status_atom::value);
    if (!r) {
      out.emplace(r.error());
    } else {
      ProjectionInfo& info = *r;
      ProjectionStatus st;
      st.name = info.name;
      st.running = info.running;
      st.checkpoint = info.checkpoint;
      st.restarts = info.restarts;
      st.parked = info.parked;
      st.backoff = info.backoff;
      st.last_error = info.last_error;
      out.emplace(std::move(st));
    }
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

std::vector<DeadLetter> Runtime::dead_letters(const std::string& projection) {
  std::lock_guard<std::mutex> lock(impl_->direct_mtx);
  return impl_->direct_store().dead_letters(projection);
}

std::optional<Error> Runtime::retry_dead_letter(const std::string& projection, std::int64_t position) {
  auto target = impl_->projection(projection);
  if (!target) return Error{errc::unknown_projection, "no projection '" + projection + "'"};
  auto ack = ask<StoreAck>(*impl_->sys, impl_->calls, target, impl_->options.store_timeout, retry_atom::value,
                           position);
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
  auto r = ask<ReconcileReport>(*impl_->sys, impl_->calls, target, timeout, reconcile_atom::value);
  if (!r) return r.error();
  if (r->error) return std::move(*r->error);
  return Reconciliation{r->differences.empty(), r->position, std::move(r->differences)};
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

} // namespace annals
