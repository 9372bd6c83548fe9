// FaultInjector: sets a projection's faults (ProjectionFaults, the apply
// gate of its projectors) through the runtime's internals.
#include "annals/fault_injector.hpp"

#include "runtime_impl.hpp"

namespace annals {

namespace {

// The projection's faults, created and installed in its supervisor on first
// use (the call returns once the live projector has them); null for an
// unknown projection.
ProjectionFaultsPtr faults_of(detail::RuntimeAccess::Impl& im, const std::string& name, ProjectionSupervisorActor& supervisor) {
  ProjectionFaultsPtr faults;
  {
    std::lock_guard<std::mutex> lock(im.projections_mtx);
    auto it = im.projections.find(name);
    if (it == im.projections.end()) return nullptr;
    supervisor = it->second.supervisor;
    if (it->second.faults) return it->second.faults;
    faults = it->second.faults = std::make_shared<ProjectionFaults>();
  }
  // Shutting down or gone: nothing is left to reach, the faults need not apply.
  (void)ask<caf::ok_atom>(*im.sys, im.calls, supervisor, im.options.store_timeout, gate_atom::value,
                          ApplyGatePtr{faults});
  return faults;
}

// Changes a projection's injected faults, tells its projector and logs it.
std::optional<Error> change_faults(Runtime& runtime, const std::string& name,
                                   const std::function<void(ProjectionFaults&)>& change, const std::string& description,
                                   json::object fields) {
  auto& im = detail::RuntimeAccess::of(runtime);
  ProjectionSupervisorActor supervisor;
  auto faults = faults_of(im, name, supervisor);
  if (!faults) return Error{errc::unknown_projection, "no projection '" + name + "'"};
  change(*faults);
  caf::anon_send(supervisor, pace_atom::value);  // a delay that changed applies to queued events
  fields["projection"] = name;
  im.log->log(LogLevel::info, "projection.fault_injected", "projection '" + name + "': " + description,
              std::move(fields));
  return std::nullopt;
}

} // namespace

void FaultInjector::crash_projection(const std::string& projection) {
  if (auto target = detail::RuntimeAccess::of(runtime_).projection(projection))
    caf::anon_send(target, crash_atom::value);
}

std::optional<Error> FaultInjector::fail_projection_on(const std::string& projection, EventMatch match, int times) {
  const auto filter = match.to_string();
  json::object fields{{"fault", "fail"}, {"match", filter}, {"times", times}};
  const auto description = times > 0 ? "fails " + std::to_string(times) + (times == 1 ? " time" : " times") + " on the next event matching " + filter
                                      : std::string("fail fault removed");
  return change_faults(runtime_, projection, [&](ProjectionFaults& f) { f.fail_on(std::move(match), times); },
                       description, std::move(fields));
}

std::optional<Error> FaultInjector::delay_projection(const std::string& projection, std::chrono::milliseconds per_event) {
  per_event = std::max(per_event, std::chrono::milliseconds(0));
  json::object fields{{"fault", "delay"}, {"delay_ms", per_event.count()}};
  const auto description = per_event.count() > 0
                              ? "applies each event " + std::to_string(per_event.count()) + " ms late"
                              : std::string("delay removed");
  return change_faults(runtime_, projection, [&](ProjectionFaults& f) { f.set_delay(per_event); }, description,
                       std::move(fields));
}

std::optional<Error> FaultInjector::clear_projection_faults(const std::string& projection) {
  return change_faults(runtime_, projection, [](ProjectionFaults& f) { f.clear(); }, "faults cleared",
                       {{"fault", "clear"}});
}

} // namespace annals
